"""Lead destination rules and the write-only secrets of the lead configuration.

Secrets are never returned: ``mask_secrets`` replaces every set secret with ``SECRET_PLACEHOLDER`` before a
GET answers. Tools round-trip documents (GET, change a key, PUT it all back), so a PUT that carries the
placeholder means "keep what is stored": ``merge_secrets`` puts the stored value back. A PUT that omits a
secret field removes it (the document is replaced whole); a placeholder with nothing stored behind it is
dropped, and publishing then reports the secret as missing.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from offerflow_shared.events import Reason
from offerflow_shared.offer_model import GENERIC_LEAD_CONFIG_KEY, LEAD_CONFIG_KEYS, LEAD_DESTINATIONS, is_url
from offerflow_shared.offer_rules.common import as_dict, error, missing, ptr, text, warning

SECRET_PLACEHOLDER = "********"
# A secret encrypted by ``offerflow_shared.secrets``: present, but not for the rules to read.
SEALED_PREFIX = "sealed:v1:"


def stand_in(value: object) -> bool:
    """A value that stands for a secret without being it (masked or sealed): formats are not judged."""
    return value == SECRET_PLACEHOLDER or (isinstance(value, str) and value.startswith(SEALED_PREFIX))
# Fields of any lead configuration object that are write-only.
SECRET_FIELDS: frozenset[str] = frozenset(
    {"connectionString", "tableConnectionString", "applicationKey", "password", "httpsEndpointUrl"})
CONFIG_KEYS: tuple[str, ...] = (*LEAD_CONFIG_KEYS.values(), GENERIC_LEAD_CONFIG_KEY)

_SALESFORCE_OID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
_MUNCHKIN = re.compile(r"\d{3}-[A-Za-z]{3}-\d{3}")
_REQUIRED: dict[str, tuple[tuple[str, str], ...]] = {
    # packaging's table sender also reads ``tableConnectionString`` (a PostgreSQL DSN): either name will do.
    "AzureTable": (("connectionString|tableConnectionString", "the storage account connection string"),),
    "AzureBlob": (("connectionString", "the storage account connection string"),
                  ("containerName", "the blob container name")),
    "SalesForce": (("objectIdentifier|salesForceOid", "the web-to-lead Object Identifier (OID)"),),
    "HttpsEndpoint": (("httpsEndpointUrl", "the HTTPS URL that receives the leads by POST"),),
    "Marketo": (("serverId", "the Marketo server id"), ("munchkinId", "the Munchkin id"),
                ("formId", "the form id")),
}
_DYNAMICS: dict[str, tuple[tuple[str, str], ...]] = {
    "azureAD": (("applicationId", "the AAD application id"), ("directoryId", "the AAD directory id"),
                ("applicationKey", "the AAD application key")),
    "office365": (("userName", "the Office 365 user name"), ("password", "the Office 365 password")),
}


def destination(offer: dict[str, Any]) -> str | None:
    """The canonical destination, or None when none (or an unknown one, a format problem) is set."""
    raw = offer.get("microsoft-azure-marketplace.leadDestination")
    kind = LEAD_DESTINATIONS.get(text(raw).lower())
    return None if kind in (None, "None") else kind


def configuration(offer: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    """The configuration object of the destination (its own key, else the generic one) and its key."""
    own = LEAD_CONFIG_KEYS[kind]
    if as_dict(offer.get(own)):
        return own, as_dict(offer.get(own))
    if as_dict(offer.get(GENERIC_LEAD_CONFIG_KEY)):
        return GENERIC_LEAD_CONFIG_KEY, as_dict(offer.get(GENERIC_LEAD_CONFIG_KEY))
    return own, {}


def lead_problems(offer: dict[str, Any]) -> list[Reason]:
    """Publish: the lead destination is complete for its type."""
    kind = destination(offer)
    if kind is None:
        return []
    key, config = configuration(offer, kind)
    out: list[Reason] = []
    if kind == "AzureBlob":
        out.append(warning("lead_destination_deprecated", ptr("offer", "microsoft-azure-marketplace.leadDestination"),
                           "Azure Blob lead destinations are deprecated: use Azure Table or an HTTPS endpoint."))
    fields = _REQUIRED.get(kind, ())
    if kind == "Dynamics":
        auth = config.get("authenticationType")
        if auth not in _DYNAMICS:
            out.append(error("required", ptr("offer", key, "authenticationType"),
                             "Dynamics CRM leads need authenticationType: azureAD (recommended) or office365."))
        fields = (("instanceUrl", "the Dynamics CRM instance URL"), *_DYNAMICS.get(str(auth), ()))
    for names, what in fields:
        name, *others = names.split("|")
        value = next((config[n] for n in (name, *others) if not missing(config.get(n))), config.get(name))
        if value == SECRET_PLACEHOLDER:
            out.append(error("secret_missing", ptr("offer", key, name),
                             f"{name} is a secret that was never stored: enter {what} again."))
        elif missing(value):
            out.append(error("required", ptr("offer", key, name), f"Lead destination {kind} needs {name}: {what}."))
    return out + lead_format_problems(offer)


def lead_format_problems(offer: dict[str, Any]) -> list[Reason]:
    """On write and on publish: lead settings that are set but malformed (placeholders are not judged)."""
    out: list[Reason] = []
    for key in CONFIG_KEYS:
        config = as_dict(offer.get(key))
        url = config.get("httpsEndpointUrl")
        if isinstance(url, str) and url and not stand_in(url) and not is_url(url, ("https",)):
            out.append(error("invalid_url", ptr("offer", key, "httpsEndpointUrl"),
                             "httpsEndpointUrl must be an absolute https:// URL."))
        for field in ("connectionString", "tableConnectionString"):
            conn = config.get(field)
            if isinstance(conn, str) and conn and not stand_in(conn) and not _is_connection(conn):
                out.append(error("invalid_connection_string", ptr("offer", key, field),
                                 f"{field} must be a storage connection string (DefaultEndpointsProtocol=https;"
                                 "AccountName=…;AccountKey=…) or a postgresql:// URL."))
        oid = config.get("objectIdentifier")
        if isinstance(oid, str) and oid and not _SALESFORCE_OID.fullmatch(oid):
            out.append(error("invalid_value", ptr("offer", key, "objectIdentifier"),
                             "objectIdentifier is the 15 or 18 character Salesforce OID."))
        munchkin = config.get("munchkinId")
        if isinstance(munchkin, str) and munchkin and not _MUNCHKIN.fullmatch(munchkin):
            out.append(error("invalid_value", ptr("offer", key, "munchkinId"),
                             "munchkinId looks like 123-ABC-456."))
    return out


def _is_connection(value: str) -> bool:
    if value.startswith(("postgresql://", "postgres://")):
        return True  # the table sender of this platform writes to PostgreSQL
    parts = dict(p.split("=", 1) for p in value.strip().strip(";").split(";") if "=" in p)
    return bool(parts.get("AccountName")) and bool(parts.get("AccountKey") or parts.get("SharedAccessSignature"))


def mask_secrets(definition: dict[str, Any]) -> dict[str, Any]:
    """A copy whose set secrets read ``SECRET_PLACEHOLDER``: what GET returns."""
    return map_secrets(definition, lambda _: SECRET_PLACEHOLDER)


def map_secrets(definition: dict[str, Any], fn: Callable[[str], str]) -> dict[str, Any]:
    """A copy with ``fn`` applied to every set secret (masking, sealing, unsealing)."""
    out = copy.deepcopy(definition)
    for config in _configs(out):
        for name in SECRET_FIELDS & config.keys():
            if not missing(config[name]) and isinstance(config[name], str):
                config[name] = fn(config[name])
    return out


def merge_secrets(new: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
    """A copy of ``new`` where each placeholder is replaced by the stored secret of the same place."""
    out = copy.deepcopy(new)
    old_offer = as_dict((stored or {}).get("offer"))
    for key in CONFIG_KEYS:
        config = as_dict(as_dict(out.get("offer")).get(key))
        for name in SECRET_FIELDS & config.keys():
            if config[name] != SECRET_PLACEHOLDER:
                continue
            kept = as_dict(old_offer.get(key)).get(name)
            if missing(kept) or kept == SECRET_PLACEHOLDER:
                del config[name]
            else:
                config[name] = kept
    return out


def _configs(definition: dict[str, Any]) -> list[dict[str, Any]]:
    offer = as_dict(definition.get("offer"))
    return [c for c in (as_dict(offer.get(k)) for k in CONFIG_KEYS) if c]
