from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from offerflow_shared.offer_rules import (
    SECRET_FIELDS,
    SECRET_PLACEHOLDER,
    format_problems,
    mask_secrets,
    merge_secrets,
    publish_problems,
)
from tests.offers import factory

M = "microsoft-azure-marketplace."
NOW = datetime(2024, 5, 1, tzinfo=UTC)
CONN = "DefaultEndpointsProtocol=https;AccountName=leads;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net"


@pytest.fixture
def d(tmp_path: Path) -> dict[str, Any]:
    definition: dict[str, Any] = factory.complete_offer("file:///tmp/os.vhd", tmp_path)["definition"]
    return definition


def lead(d: dict[str, Any], destination: str, key: str | None, config: dict[str, Any]) -> set[tuple[str | None, str]]:
    d["offer"][M + "leadDestination"] = destination
    if key:
        d["offer"][M + key] = config
    return {(r.field, r.code) for r in publish_problems(d, now=NOW) if r.level == "error"}


COMPLETE = [
    ("AzureTable", "tableLeadConfiguration", {"connectionString": CONN}),
    ("SalesForce", "salesForceLeadConfiguration", {"objectIdentifier": "00D5w000004qDxE"}),
    ("HttpsEndpoint", "httpsEndpointLeadConfiguration", {"httpsEndpointUrl": "https://flow.example/trigger?sig=x"}),
    ("Marketo", "marketoLeadConfiguration", {"serverId": "s1", "munchkinId": "123-ABC-456", "formId": "1001"}),
    ("Dynamics", "crmLeadConfiguration", {"authenticationType": "azureAD", "instanceUrl": "https://x.crm.dynamics.com",
                                          "applicationId": factory.SUBSCRIPTION, "directoryId": factory.SUBSCRIPTION,
                                          "applicationKey": "k"}),
    ("Dynamics", "crmLeadConfiguration", {"authenticationType": "office365", "instanceUrl": "https://x.crm.dynamics.com",
                                          "userName": "u", "password": "p"}),
    ("None", None, {}),
    ("none", None, {}),
    ("Table", "tableLeadConfiguration", {"tableConnectionString": "postgresql://u:p@db.example/leads"}),
    ("SalesForce", "leadConfiguration", {"salesForceOid": "00D5w000004qDxE"}),
    ("httpsendpoint", "leadConfiguration", {"httpsEndpointUrl": "https://flow.example/t"}),  # packaging's key
]


@pytest.mark.parametrize(("destination", "key", "config"), COMPLETE)
def test_complete_lead_destinations(d: dict[str, Any], destination: str, key: str | None,
                                    config: dict[str, Any]) -> None:
    assert lead(d, destination, key, config) == set()


INCOMPLETE = [
    ("AzureTable", "tableLeadConfiguration", {}, {"connectionString": "required"}),
    ("AzureTable", "tableLeadConfiguration", {"connectionString": "nonsense"},
     {"connectionString": "invalid_connection_string"}),
    ("SalesForce", "salesForceLeadConfiguration", {"objectIdentifier": "short"}, {"objectIdentifier": "invalid_value"}),
    ("HttpsEndpoint", "httpsEndpointLeadConfiguration", {}, {"httpsEndpointUrl": "required"}),
    ("HttpsEndpoint", "httpsEndpointLeadConfiguration", {"httpsEndpointUrl": "http://plain.example/"},
     {"httpsEndpointUrl": "invalid_url"}),
    ("Marketo", "marketoLeadConfiguration", {"serverId": "s"},
     {"munchkinId": "required", "formId": "required"}),
    ("Dynamics", "crmLeadConfiguration", {}, {"authenticationType": "required", "instanceUrl": "required"}),
    ("Dynamics", "crmLeadConfiguration", {"authenticationType": "azureAD", "instanceUrl": "https://x.example"},
     {"applicationId": "required", "directoryId": "required", "applicationKey": "required"}),
    ("Dynamics", "crmLeadConfiguration", {"authenticationType": "office365", "instanceUrl": "https://x.example"},
     {"userName": "required", "password": "required"}),
    ("HttpsEndpoint", "httpsEndpointLeadConfiguration", {"httpsEndpointUrl": SECRET_PLACEHOLDER},
     {"httpsEndpointUrl": "secret_missing"}),
]


@pytest.mark.parametrize(("destination", "key", "config", "expected"), INCOMPLETE)
def test_incomplete_lead_destinations_name_each_missing_field(
        d: dict[str, Any], destination: str, key: str, config: dict[str, Any], expected: dict[str, str]) -> None:
    assert lead(d, destination, key, config) == {(f"/offer/{M}{key}/{f}", c) for f, c in expected.items()}


def test_blob_destination_is_deprecated_but_allowed(d: dict[str, Any]) -> None:
    d["offer"][M + "leadDestination"] = "AzureBlob"
    d["offer"][M + "blobLeadConfiguration"] = {"connectionString": CONN, "containerName": "leads"}
    [r] = publish_problems(d, now=NOW)
    assert (r.code, r.level) == ("lead_destination_deprecated", "warning")


def secret_doc(d: dict[str, Any]) -> dict[str, Any]:
    d["offer"][M + "leadDestination"] = "HttpsEndpoint"
    d["offer"][M + "httpsEndpointLeadConfiguration"] = {"httpsEndpointUrl": "https://flow.example/t?sig=SECRET"}
    d["offer"][M + "tableLeadConfiguration"] = {"connectionString": CONN}
    d["offer"][M + "crmLeadConfiguration"] = {"userName": "u", "password": "hunter2", "applicationKey": ""}
    return d


def test_secret_fields() -> None:
    assert frozenset({"connectionString", "tableConnectionString", "applicationKey", "password",
                      "httpsEndpointUrl"}) == SECRET_FIELDS


def test_mask_replaces_every_set_secret_and_nothing_else(d: dict[str, Any]) -> None:
    stored = secret_doc(d)
    before = copy.deepcopy(stored)
    masked = mask_secrets(stored)
    assert stored == before  # not mutated
    offer = masked["offer"]
    assert offer[M + "httpsEndpointLeadConfiguration"] == {"httpsEndpointUrl": SECRET_PLACEHOLDER}
    assert offer[M + "tableLeadConfiguration"] == {"connectionString": SECRET_PLACEHOLDER}
    assert offer[M + "crmLeadConfiguration"] == {"userName": "u", "password": SECRET_PLACEHOLDER, "applicationKey": ""}
    assert "SECRET" not in repr(masked) and "hunter2" not in repr(masked) and "AccountKey" not in repr(masked)


def test_a_round_trip_with_placeholders_keeps_the_stored_secrets(d: dict[str, Any]) -> None:
    stored = secret_doc(d)
    returned = mask_secrets(stored)
    returned["offer"][M + "title"] = "Changed"
    assert format_problems({"definition": returned}) == []
    merged = merge_secrets(returned, stored)
    key = M + "httpsEndpointLeadConfiguration"
    assert merged["offer"][key] == stored["offer"][key]
    assert merged["offer"][M + "crmLeadConfiguration"]["password"] == "hunter2"
    assert merged["offer"][M + "title"] == "Changed"


def test_a_new_secret_value_replaces_the_stored_one(d: dict[str, Any]) -> None:
    stored = secret_doc(d)
    new = mask_secrets(stored)
    new["offer"][M + "crmLeadConfiguration"]["password"] = "correct horse"
    assert merge_secrets(new, stored)["offer"][M + "crmLeadConfiguration"]["password"] == "correct horse"


def test_a_placeholder_with_nothing_stored_is_dropped(d: dict[str, Any]) -> None:
    new = secret_doc(d)
    new["offer"][M + "httpsEndpointLeadConfiguration"]["httpsEndpointUrl"] = SECRET_PLACEHOLDER
    merged = merge_secrets(new, None)
    assert merged["offer"][M + "httpsEndpointLeadConfiguration"] == {}
    assert (f"/offer/{M}httpsEndpointLeadConfiguration/httpsEndpointUrl", "required") in {
        (r.field, r.code) for r in publish_problems(merged, now=NOW)}


def test_omitting_a_secret_removes_it(d: dict[str, Any]) -> None:
    stored = secret_doc(d)
    new = mask_secrets(stored)
    del new["offer"][M + "tableLeadConfiguration"]["connectionString"]
    assert merge_secrets(new, stored)["offer"][M + "tableLeadConfiguration"] == {}
