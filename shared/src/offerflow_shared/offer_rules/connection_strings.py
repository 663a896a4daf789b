"""Parsing of the two connection strings a lead destination may hold, shared by validation and packaging.

One parser decides for both sides, so a connection string that passes validation is one packaging can use,
and one packaging cannot use is refused at validation with the reason:

- an Azure Storage connection string (``DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…``,
  optionally ``EndpointSuffix``, ``BlobEndpoint`` / ``TableEndpoint`` (Azurite, sovereign clouds),
  ``SharedAccessSignature`` instead of the key, or ``UseDevelopmentStorage=true`` for a local Azurite);
- a PostgreSQL URL (``postgresql://user:password@host:port/database``) for the table destination.

Error messages never repeat the key, the signature or the password.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

Service = Literal["blob", "table"]

# Azurite's documented development account (public, the same in every installation).
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_DEV_PORTS = {"blob": 10000, "table": 10002}

_KEYS = {k.lower(): k for k in (
    "DefaultEndpointsProtocol", "AccountName", "AccountKey", "SharedAccessSignature", "EndpointSuffix",
    "BlobEndpoint", "TableEndpoint", "QueueEndpoint", "FileEndpoint", "UseDevelopmentStorage")}
_ACCOUNT = re.compile(r"[a-z0-9]{3,24}")
_SUFFIX = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


class ConnectionStringError(ValueError):
    """The connection string cannot be used; the message says why (never quoting a secret)."""


@dataclass(frozen=True)
class StorageConnection:
    """What packaging needs to reach an Azure Storage service."""

    account: str | None
    key: bytes | None  # the decoded AccountKey (SharedKey signing), or None with a SAS
    sas: str | None  # the SharedAccessSignature query (without "?"), or None with a key
    endpoints: dict[str, str]  # "blob" / "table" → base URL without a trailing slash

    def endpoint(self, service: Service) -> str:
        return self.endpoints[service]


def is_postgres_url(value: str) -> bool:
    return value.strip().lower().startswith(("postgresql://", "postgres://"))


def postgres_problem(value: str) -> str | None:
    """Why a PostgreSQL URL cannot be used, or None."""
    try:
        parts = urlsplit(value.strip())
        _ = parts.port
    except ValueError:
        return "is not a valid postgresql:// URL (check the port)"
    if not parts.hostname:
        return "must name a host: postgresql://user:password@host:port/database"
    return None


def _pairs(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for piece in value.strip().split(";"):
        if not piece.strip():
            continue
        name, sep, item = piece.partition("=")
        canonical = _KEYS.get(name.strip().lower())
        if not sep:
            raise ConnectionStringError("has a part without '=' (expected Name=value pairs separated by ';')")
        if canonical is None:
            # Named only when it looks like a setting name: a pasted key must not be echoed back.
            shown = f" {name.strip()!r}" if re.fullmatch(r"[A-Za-z]{1,32}", name.strip()) else ""
            raise ConnectionStringError(f"has an unknown setting{shown} (known: {', '.join(_KEYS.values())})")
        if canonical in out:
            raise ConnectionStringError(f"sets {canonical} twice")
        out[canonical] = item.strip()
    if not out:
        raise ConnectionStringError("is empty")
    return out


def _endpoint(name: str, url: str) -> str:
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        raise ConnectionStringError(f"{name} is not a valid URL") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConnectionStringError(f"{name} must be an http(s) URL with a host and no query string")
    return url.rstrip("/")


def parse_storage_connection(value: str, service: Service | None = None) -> StorageConnection:
    """The parsed connection string, able to reach ``service`` (or any service when None)."""
    pairs = _pairs(value)
    if pairs.get("UseDevelopmentStorage", "").lower() == "true":
        if len(pairs) > 1:
            raise ConnectionStringError("UseDevelopmentStorage=true cannot be combined with other settings")
        return StorageConnection(DEV_ACCOUNT, base64.b64decode(DEV_KEY), None, {
            s: f"http://127.0.0.1:{port}/{DEV_ACCOUNT}" for s, port in _DEV_PORTS.items()})
    if "UseDevelopmentStorage" in pairs:
        raise ConnectionStringError("UseDevelopmentStorage may only be true")
    protocol = pairs.get("DefaultEndpointsProtocol", "https").lower()
    if protocol not in ("http", "https"):
        raise ConnectionStringError("DefaultEndpointsProtocol must be https or http")
    account = pairs.get("AccountName") or None
    if account is not None and not _ACCOUNT.fullmatch(account):
        raise ConnectionStringError("AccountName must be 3 to 24 lowercase letters and digits")
    suffix = pairs.get("EndpointSuffix", "core.windows.net")
    if not _SUFFIX.fullmatch(suffix):
        raise ConnectionStringError("EndpointSuffix must be a domain such as core.windows.net")
    endpoints: dict[str, str] = {}
    for svc in ("blob", "table"):
        explicit = pairs.get(f"{svc.capitalize()}Endpoint")
        if explicit:
            endpoints[svc] = _endpoint(f"{svc.capitalize()}Endpoint", explicit)
        elif account:
            endpoints[svc] = f"{protocol}://{account}.{svc}.{suffix}"
    wanted = (service,) if service else ("blob", "table")
    if not any(s in endpoints for s in wanted):
        what = f"{wanted[0].capitalize()}Endpoint" if service else "BlobEndpoint or TableEndpoint"
        raise ConnectionStringError(f"needs AccountName (or {what}) to know where the storage account is")
    key: bytes | None = None
    sas = (pairs.get("SharedAccessSignature") or "").lstrip("?") or None
    if pairs.get("AccountKey"):
        if account is None:
            raise ConnectionStringError("has an AccountKey but no AccountName to sign with")
        try:
            key = base64.b64decode(pairs["AccountKey"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ConnectionStringError("AccountKey is not valid base64 (copy it again from the portal)") from exc
        if not key:
            raise ConnectionStringError("AccountKey is empty")
    if key is None and sas is None:
        raise ConnectionStringError("needs AccountKey or SharedAccessSignature")
    return StorageConnection(account, key, None if key else sas, endpoints)


def storage_connection_problem(value: str, service: Service | None = None) -> str | None:
    """Why the Azure Storage connection string cannot be used for ``service``, or None."""
    try:
        parse_storage_connection(value, service)
    except ConnectionStringError as exc:
        return str(exc)
    return None
