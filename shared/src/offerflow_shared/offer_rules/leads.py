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

from offerflow_contract.events import Reason
from offerflow_shared.offer import MARKETPLACE
from offerflow_shared.offer_model import GENERIC_LEAD_CONFIG_KEY, LEAD_CONFIG_KEYS, LEAD_DESTINATIONS
from offerflow_shared.offer_rules.common import as_dict, error, missing, ptr, text, warning
from offerflow_shared.offer_rules.connection_strings import (
    Service,
    is_postgres_url,
    postgres_problem,
    storage_connection_problem,
)
from offerflow_shared.offer_types import is_url

SECRET_PLACEHOLDER = "********"
# A secret encrypted by ``offerflow_shared.secrets``: present, but not for the rules to read.
SEALED_PREFIX = "sealed:v1:"


def stand_in(value: object) -> bool:
    """A value that stands for a secret without being it (masked or sealed): formats are not judged."""
    return value == SECRET_PLACEHOLDER or (isinstance(value, str) and value.startswith(SEALED_PREFIX))
# Fields of any lead configuration object that are write-only.
SECRET_FIELDS: frozenset[str] = frozenset(
    {"connectionString", "tableConnectionString", "applicationKey", "password", "httpsEndpointUrl", "clientSecret"})
CONFIG_KEYS: tuple[str, ...] = (*LEAD_CONFIG_KEYS.values(), GENERIC_LEAD_CONFIG_KEY)

_SALESFORCE_OID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
MUNCHKIN = re.compile(r"\d{3}-[A-Za-z]{3}-\d{3}")
# Azure blob container names: 3-63 lowercase letters, digits and single hyphens, alphanumeric at both ends.
CONTAINER_NAME = re.compile(r"(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_REQUIRED: dict[str, tuple[tuple[str, str], ...]] = {
    # packaging's table sender also reads ``tableConnectionString`` (a PostgreSQL DSN): either name will do.
    "AzureTable": (("connectionString|tableConnectionString", "the storage account connection string"),),
    "AzureBlob": (("connectionString", "the storage account connection string"),
                  ("containerName", "the blob container name")),
    "SalesForce": (("objectIdentifier|salesForceOid", "the web-to-lead Object Identifier (OID)"),),
    "HttpsEndpoint": (("httpsEndpointUrl", "the HTTPS URL that receives the leads by POST"),),
    # The REST lead push needs the Munchkin id (it names the REST host) and a LaunchPoint API service's
    # client id and secret; serverId and formId are kept on the offer but not needed to deliver a lead.
    "Marketo": (("munchkinId", "the Munchkin id (Admin > Munchkin)"),
                ("clientId", "the client id of a Marketo LaunchPoint API service"),
                ("clientSecret", "the client secret of that LaunchPoint API service")),
}
_DYNAMICS: dict[str, tuple[tuple[str, str], ...]] = {
    "azureAD": (("applicationId", "the AAD application id"), ("directoryId", "the AAD directory id"),
                ("applicationKey", "the AAD application key")),
    "office365": (("userName", "the Office 365 user name"), ("password", "the Office 365 password")),
}


def destination(offer: dict[str, Any]) -> str | None:
    """The canonical destination, or None when none (or an unknown one, a format problem) is set."""
    raw = offer.get(MARKETPLACE + "leadDestination")
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
        out.append(warning("lead_destination_deprecated", ptr("offer", MARKETPLACE + "leadDestination"),
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
            if isinstance(conn, str) and conn and not stand_in(conn):
                problem = connection_problem(conn, _service(offer, key))
                if problem:
                    out.append(error("invalid_connection_string", ptr("offer", key, field), f"{field} {problem}."))
        oid = config.get("objectIdentifier")
        if isinstance(oid, str) and oid and not _SALESFORCE_OID.fullmatch(oid):
            out.append(error("invalid_value", ptr("offer", key, "objectIdentifier"),
                             "objectIdentifier is the 15 or 18 character Salesforce OID."))
        container = config.get("containerName")
        if isinstance(container, str) and container and not CONTAINER_NAME.fullmatch(container):
            out.append(error("invalid_value", ptr("offer", key, "containerName"),
                             "containerName must be 3 to 63 lowercase letters, digits and single hyphens, "
                             "starting and ending with a letter or digit."))
        munchkin = config.get("munchkinId")
        if isinstance(munchkin, str) and munchkin and not MUNCHKIN.fullmatch(munchkin):
            out.append(error("invalid_value", ptr("offer", key, "munchkinId"),
                             "munchkinId looks like 123-ABC-456."))
    return out


def _service(offer: dict[str, Any], key: str) -> Service | None:
    """Which storage service a configuration object's connection string must reach."""
    kind = {v: k for k, v in LEAD_CONFIG_KEYS.items()}.get(key) or destination(offer)
    return "table" if kind == "AzureTable" else "blob" if kind == "AzureBlob" else None


def connection_problem(value: str, service: Service | None) -> str | None:
    """Why packaging could not deliver to this connection string (the same parser packaging uses), or None.

    A postgresql:// URL is the table destination's other form (packaging writes to a ``leads`` table).
    """
    if is_postgres_url(value):
        if service == "blob":
            return "must be an Azure Storage connection string: a postgresql:// URL only works for a table destination"
        return postgres_problem(value)
    problem = storage_connection_problem(value, service)
    if problem is None:
        return None
    return (f"is not a usable Azure Storage connection string: it {problem} (expected "
            "DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;EndpointSuffix=core.windows.net, "
            "or a postgresql:// URL for a table)")


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
