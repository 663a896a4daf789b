"""Lead senders into Azure Storage through its REST APIs: Table (an entity) and Blob (a JSON document).

The connection string is parsed by ``offerflow_shared.offer_rules.connection_strings``, the parser validation
uses, so what passed validation is what is sent to here. Requests are signed with SharedKey (HMAC-SHA256 of
the canonicalised request with the account key) or carry the connection string's SAS; the string-to-sign
functions are pure and tested on their own. Both destinations are idempotent: the table entity's row key
and the blob's name are the lead id, so a redelivered event finds the lead already there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
from collections.abc import Mapping
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx

from offerflow_packaging import lead_rules
from offerflow_packaging.adapters.lead_http import TargetGuard, refuse_redirect, send_request
from offerflow_packaging.adapters.leads import LeadRefused
from offerflow_packaging.lead_rules import Lead, LeadConfigError
from offerflow_shared.offer_rules.connection_strings import (
    ConnectionStringError,
    Service,
    StorageConnection,
    parse_storage_connection,
)
from offerflow_shared.offer_rules.leads import CONTAINER_NAME
from offerflow_shared.urls import redact as redact_url

TABLE_NAME = "marketplaceleads"  # the table the marketplace writes leads into
TABLE_VERSION = "2019-02-02"
BLOB_VERSION = "2021-08-06"
_BLOB_SIGNED = ("Content-Encoding", "Content-Language", "Content-Length", "Content-MD5", "Content-Type", "Date",
                "If-Modified-Since", "If-Match", "If-None-Match", "If-Unmodified-Since", "Range")


def _resource_path(account: str, url: str) -> str:
    # The account, then the URI path as sent (path-style endpoints such as Azurite's repeat the account).
    return f"/{account}{urlsplit(url).path or '/'}"


def table_string_to_sign(method: str, url: str, headers: Mapping[str, str], account: str) -> str:
    """SharedKey for the Table service: verb, Content-MD5, Content-Type, date, resource (+ ``comp``)."""
    h = {k.lower(): v for k, v in headers.items()}
    resource = _resource_path(account, url)
    comp = dict(parse_qsl(urlsplit(url).query)).get("comp")
    if comp is not None:
        resource += f"?comp={comp}"
    return "\n".join([method.upper(), h.get("content-md5", ""), h.get("content-type", ""),
                      h.get("x-ms-date", h.get("date", "")), resource])


def blob_string_to_sign(method: str, url: str, headers: Mapping[str, str], account: str) -> str:
    """SharedKey for the Blob service: verb, the standard headers, ``x-ms-*`` headers, resource + query."""
    h = {k.lower(): v.strip() for k, v in headers.items()}
    standard = [h.get(name.lower(), "") for name in _BLOB_SIGNED]
    if standard[2] == "0":
        standard[2] = ""  # a zero Content-Length is signed as empty (versions from 2015-02-21)
    ms = "".join(f"{k}:{h[k]}\n" for k in sorted(k for k in h if k.startswith("x-ms-")))
    params: dict[str, list[str]] = {}
    for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        params.setdefault(name.lower(), []).append(value)
    resource = _resource_path(account, url) + "".join(
        f"\n{name}:{','.join(sorted(values))}" for name, values in sorted(params.items()))
    return "\n".join([method.upper(), *standard]) + "\n" + ms + resource


def sign(string_to_sign: str, account: str, key: bytes) -> str:
    digest = hmac.new(key, string_to_sign.encode(), hashlib.sha256).digest()
    return f"SharedKey {account}:{base64.b64encode(digest).decode()}"


def _connection(config: Mapping[str, Any], service: Service, what: str) -> StorageConnection:
    value = lead_rules.required(dict(config), ("connectionString", "tableConnectionString"), what)
    try:
        return parse_storage_connection(value, service)
    except ConnectionStringError as exc:
        raise LeadConfigError(f"leadConfiguration.connectionString is not usable: it {exc}") from exc


class _StorageClient:
    """Signs and sends requests to one storage service of one account."""

    def __init__(self, conn: StorageConnection, service: Service, guard: TargetGuard, timeout: float,
                 verify: ssl.SSLContext | bool) -> None:
        self.conn, self.service, self.guard = conn, service, guard
        self.timeout, self.verify = timeout, verify
        self.base = conn.endpoint(service)

    async def check(self) -> str:
        return await self.guard.check_url(self.base, f"the storage {self.service} endpoint")

    async def send(self, method: str, path: str, headers: dict[str, str], body: bytes = b"",
                   query: str = "") -> httpx.Response:
        url = f"{self.base}/{path}" + (f"?{query}" if query else "")
        headers = {"x-ms-date": formatdate(usegmt=True), "x-ms-version": TABLE_VERSION if self.service == "table"
                   else BLOB_VERSION, **headers}
        if body or method in ("PUT", "POST"):
            headers["Content-Length"] = str(len(body))
        if self.conn.key is not None and self.conn.account is not None:
            to_sign = (table_string_to_sign if self.service == "table" else blob_string_to_sign)(
                method, url, headers, self.conn.account)
            headers["Authorization"] = sign(to_sign, self.conn.account, self.conn.key)
        elif self.conn.sas:
            url += ("&" if "?" in url else "?") + self.conn.sas
        return await send_request(method, url, redact_url(url), guard=self.guard, seconds=self.timeout,
                                  verify=self.verify, headers=headers, content=body)


def _refusal(response: httpx.Response, shown: str, fix: str) -> LeadRefused:
    refuse_redirect(response, shown)
    code = response.headers.get("x-ms-error-code", "")
    detail = f"HTTP {response.status_code}{' ' + code if code else ''}"
    if response.status_code == 403:
        fix = ("the storage account refused the credentials: copy the connection string (AccountKey or a SAS "
               "allowing create and write) again from the storage account")
    return LeadRefused(f"{shown} refused the test lead ({detail}); {fix}")


class AzureTableSender:
    """Creates the ``marketplaceleads`` table when missing, then inserts the lead as one entity."""

    def __init__(self, guard: TargetGuard, timeout: float = 10.0, verify: ssl.SSLContext | bool = True) -> None:
        self.guard, self.timeout, self.verify = guard, timeout, verify

    async def send(self, lead: Lead, config: Mapping[str, Any]) -> str:
        conn = _connection(config, "table", "the storage account connection string")
        client = _StorageClient(conn, "table", self.guard, self.timeout, self.verify)
        shown = f"{await client.check()}/{TABLE_NAME}"
        json_headers = {"Content-Type": "application/json", "Accept": "application/json;odata=nometadata",
                        "Prefer": "return-no-content", "DataServiceVersion": "3.0;NetFx",
                        "MaxDataServiceVersion": "3.0;NetFx"}
        created = await client.send("POST", "Tables", json_headers, json.dumps({"TableName": TABLE_NAME}).encode())
        if created.status_code not in (201, 204, 409):  # 409: TableAlreadyExists
            raise _refusal(created, shown, f"the account must allow creating the {TABLE_NAME} table")
        inserted = await client.send("POST", TABLE_NAME, json_headers, json.dumps(lead.table_entity()).encode())
        if inserted.status_code == 409:  # EntityAlreadyExists: a redelivery of a lead already stored
            return f"{shown} (already stored)"
        if inserted.status_code not in (201, 204):
            raise _refusal(inserted, shown, f"the account must allow inserting into the {TABLE_NAME} table")
        return shown


class AzureBlobSender:
    """Writes the lead as ``<lead id>.json`` into ``containerName`` (created when missing)."""

    def __init__(self, guard: TargetGuard, timeout: float = 10.0, verify: ssl.SSLContext | bool = True) -> None:
        self.guard, self.timeout, self.verify = guard, timeout, verify

    async def send(self, lead: Lead, config: Mapping[str, Any]) -> str:
        container = lead_rules.required(dict(config), ("containerName",), "the blob container name")
        if not CONTAINER_NAME.fullmatch(container):
            raise LeadConfigError("leadConfiguration.containerName must be 3 to 63 lowercase letters, digits and "
                                  "single hyphens, starting and ending with a letter or digit")
        conn = _connection(config, "blob", "the storage account connection string")
        client = _StorageClient(conn, "blob", self.guard, self.timeout, self.verify)
        shown = f"{await client.check()}/{container}"
        made = await client.send("PUT", quote(container), {}, query="restype=container")
        # 409: ContainerAlreadyExists; 403 with a SAS: it may not allow creating containers, the put decides.
        if made.status_code not in (201, 409) and not (made.status_code == 403 and conn.key is None):
            raise _refusal(made, shown, "the account must allow creating the container")
        body = json.dumps(lead.blob_document(), indent=2, sort_keys=True).encode()
        name = f"{lead.lead_id}.json"
        put = await client.send("PUT", f"{quote(container)}/{name}",
                                {"Content-Type": "application/json", "x-ms-blob-type": "BlockBlob"}, body)
        if put.status_code != 201:
            raise _refusal(put, shown, "the account must allow writing blobs into the container")
        return f"{shown}/{name}"
