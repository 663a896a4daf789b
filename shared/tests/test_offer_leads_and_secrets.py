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
from offerflow_shared.offer_rules.connection_strings import ConnectionStringError, parse_storage_connection
from tests.offers import factory

M = "microsoft-azure-marketplace."
NOW = datetime(2024, 5, 1, tzinfo=UTC)
CONN = "DefaultEndpointsProtocol=https;AccountName=leads;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net"
AZURITE = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=c2VjcmV0;"
           "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;")
SAS_BLOB = "BlobEndpoint=https://leads.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&sig=abc%3D"


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
    ("Marketo", "marketoLeadConfiguration", {"serverId": "s1", "munchkinId": "123-ABC-456", "formId": "1001",
                                             "clientId": "c1", "clientSecret": "s"}),
    ("Marketo", "marketoLeadConfiguration", {"munchkinId": "123-ABC-456", "clientId": "c1", "clientSecret": "s"}),
    ("AzureTable", "tableLeadConfiguration", {"connectionString": AZURITE}),
    ("AzureTable", "tableLeadConfiguration", {"connectionString": "UseDevelopmentStorage=true"}),
    ("AzureBlob", "blobLeadConfiguration", {"connectionString": SAS_BLOB, "containerName": "leads"}),
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
    ("Marketo", "marketoLeadConfiguration", {"serverId": "s", "formId": "1"},
     {"munchkinId": "required", "clientId": "required", "clientSecret": "required"}),
    ("Marketo", "marketoLeadConfiguration", {"munchkinId": "123-ABC-456", "clientId": "c",
                                             "clientSecret": SECRET_PLACEHOLDER}, {"clientSecret": "secret_missing"}),
    # Connection strings packaging could not use are refused here, naming the field.
    ("AzureTable", "tableLeadConfiguration", {"connectionString": "AccountName=leads;AccountKey=not base64!"},
     {"connectionString": "invalid_connection_string"}),
    ("AzureTable", "tableLeadConfiguration", {"connectionString": "AccountName=leads;AcountKey=c2VjcmV0"},
     {"connectionString": "invalid_connection_string"}),
    ("AzureTable", "tableLeadConfiguration", {"connectionString": "AccountName=leads"},
     {"connectionString": "invalid_connection_string"}),
    ("AzureTable", "tableLeadConfiguration", {"connectionString": "AccountName=Leads_1;AccountKey=c2VjcmV0"},
     {"connectionString": "invalid_connection_string"}),
    ("AzureBlob", "blobLeadConfiguration", {"connectionString": "TableEndpoint=https://t.example/;"
                                            "SharedAccessSignature=sig=x", "containerName": "leads"},
     {"connectionString": "invalid_connection_string"}),  # no way to reach the blob service
    ("AzureBlob", "blobLeadConfiguration", {"connectionString": CONN, "containerName": "Leads--2024"},
     {"containerName": "invalid_value"}),
    ("AzureBlob", "blobLeadConfiguration", {"connectionString": "postgresql://u:p@db.example/x",
                                            "containerName": "cc1"},
     {"connectionString": "invalid_connection_string"}),
    ("AzureTable", "tableLeadConfiguration", {"tableConnectionString": "postgresql://u:p@db.example:99999/x"},
     {"tableConnectionString": "invalid_connection_string"}),
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
                      "httpsEndpointUrl", "clientSecret"}) == SECRET_FIELDS


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


def test_connection_string_messages_name_the_problem_and_never_the_key(d: dict[str, Any]) -> None:
    key = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"
    d["offer"][M + "leadDestination"] = "AzureTable"
    for conn, says in [(f"AccountName=leads;AccountKey={key}!", "AccountKey is not valid base64"),
                       (f"AccountName=leads;AcountKey={key}", "unknown setting 'AcountKey'"),
                       (f"{key}==", "unknown setting (known:"),
                       ("AccountName=leads", "needs AccountKey or SharedAccessSignature"),
                       ("DefaultEndpointsProtocol=ftp;AccountName=leads;AccountKey=c2VjcmV0", "https or http")]:
        d["offer"][M + "tableLeadConfiguration"] = {"connectionString": conn}
        [r] = [r for r in publish_problems(d, now=NOW) if r.level == "error"]
        assert r.field == f"/offer/{M}tableLeadConfiguration/connectionString", conn
        assert r.message.startswith("connectionString ") and says in r.message, r.message
        assert key not in r.message


def test_the_parser_packaging_uses_derives_the_endpoints() -> None:
    c = parse_storage_connection(CONN)
    assert c.endpoints == {"blob": "https://leads.blob.core.windows.net", "table": "https://leads.table.core.windows.net"}
    assert (c.account, c.key, c.sas) == ("leads", b"secret", None)
    a = parse_storage_connection(AZURITE, "table")
    assert a.endpoint("table") == "http://127.0.0.1:10002/devstoreaccount1"
    dev = parse_storage_connection("UseDevelopmentStorage=true")
    assert dev.endpoint("blob") == "http://127.0.0.1:10000/devstoreaccount1" and dev.account == "devstoreaccount1"
    s = parse_storage_connection(SAS_BLOB, "blob")
    assert (s.account, s.key, s.sas) == (None, None, "sv=2022-11-02&sig=abc%3D")
    assert s.endpoint("blob") == "https://leads.blob.core.windows.net"
    with pytest.raises(ConnectionStringError, match="TableEndpoint"):
        parse_storage_connection(SAS_BLOB, "table")
