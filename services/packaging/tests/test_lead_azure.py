"""Azure Table and Azure Blob lead destinations: SharedKey signing, then real deliveries into Azurite.

The Azurite tests start the emulator installed by ``scripts/install`` (``deploy/dev/azurite.py``); under
``make test`` (``OFFERFLOW_TEST_RUN_DIR`` set) a missing installation fails them instead of skipping.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from offerflow_packaging import lead_rules
from offerflow_packaging.adapters.lead_azure import (
    TABLE_NAME,
    AzureBlobSender,
    AzureTableSender,
    _StorageClient,
    blob_string_to_sign,
    sign,
    table_string_to_sign,
)
from offerflow_packaging.adapters.lead_http import TargetGuard
from offerflow_packaging.adapters.lead_table import TableSender
from offerflow_packaging.adapters.leads import LeadRefused, LeadRouter
from offerflow_packaging.lead_rules import LeadConfigError
from offerflow_shared.offer import MARKETPLACE
from offerflow_shared.offer_rules.connection_strings import parse_storage_connection
from offerflow_shared.offer_rules.leads import connection_problem
from tests.egress_net import name_local, named_policy

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "deploy" / "dev"))
import azurite

TITLE = "Contoso Web Server"


def definition(destination: str, key: str, **config: Any) -> dict[str, Any]:
    return {"offer": {MARKETPLACE + "title": TITLE, MARKETPLACE + "leadDestination": destination,
                      MARKETPLACE + key: config}}


def router(named: bool = True) -> LeadRouter:
    guard = TargetGuard(named_policy(named))
    return LeadRouter({lead_rules.TABLE: TableSender(guard, 10.0), lead_rules.BLOB: AzureBlobSender(guard, 10.0)},
                      timeout=20.0)


# --- signing (pure) ---------------------------------------------------------------------------------


def test_table_string_to_sign_is_verb_md5_type_date_and_the_path_style_resource() -> None:
    headers = {"Content-Type": "application/json", "x-ms-date": "Wed, 02 Dec 2026 15:00:00 GMT",
               "x-ms-version": "2019-02-02"}
    url = "http://127.0.0.1:10002/devstoreaccount1/Tables"
    assert table_string_to_sign("post", url, headers, "devstoreaccount1") == (
        "POST\n\napplication/json\nWed, 02 Dec 2026 15:00:00 GMT\n/devstoreaccount1/devstoreaccount1/Tables")
    # Only the comp parameter belongs to the resource; a production-style host has no account in the path.
    assert table_string_to_sign("GET", "https://a.table.core.windows.net/?comp=properties&x=1", headers, "a") \
        .endswith("\n/a/?comp=properties")


def test_blob_string_to_sign_has_the_standard_headers_the_ms_headers_and_the_sorted_query() -> None:
    headers = {"x-ms-version": "2021-08-06", "X-Ms-Date": "Wed, 02 Dec 2026 15:00:00 GMT",
               "x-ms-blob-type": "BlockBlob", "Content-Type": "application/json", "Content-Length": "12"}
    got = blob_string_to_sign("PUT", "https://acct.blob.core.windows.net/leads/a.json?b=2&A=1", headers, "acct")
    assert got == ("PUT\n\n\n12\n\napplication/json\n\n\n\n\n\n\n"
                   "x-ms-blob-type:BlockBlob\nx-ms-date:Wed, 02 Dec 2026 15:00:00 GMT\nx-ms-version:2021-08-06\n"
                   "/acct/leads/a.json\na:1\nb:2")
    # A zero Content-Length is signed as empty.
    assert blob_string_to_sign("PUT", "https://acct.blob.core.windows.net/c?restype=container",
                               {"Content-Length": "0"}, "acct").split("\n")[3] == ""


def test_sign_is_hmac_sha256_of_the_string_with_the_decoded_key() -> None:
    key = base64.b64decode(azurite.KEY)
    expected = base64.b64encode(hmac.new(key, b"GET\n\n\n\n/a/b", hashlib.sha256).digest()).decode()
    assert sign("GET\n\n\n\n/a/b", "devstoreaccount1", key) == f"SharedKey devstoreaccount1:{expected}"


def test_lead_documents_are_deterministic_per_run() -> None:
    lead = lead_rules.make_test_lead("run-1", "contoso", "web", definition("AzureTable", "x"))
    entity = lead.table_entity()
    assert entity["PartitionKey"] == "AzureMarketplace" and entity["RowKey"] == lead.lead_id
    assert entity["LeadSource"] == f"AzureMarketplace-INS | {TITLE}" and entity["Email"].endswith("@example.com")
    assert lead.blob_document()["UserDetails"]["Email"] == lead.email
    assert lead_rules.make_test_lead("run-1", "contoso", "web", definition("AzureTable", "x")) == lead


BAD = ["AccountName=leads;AccountKey=%%%", "AccountName=leads", "AcountName=leads;AccountKey=c2VjcmV0",
       "TableEndpoint=ftp://x/;SharedAccessSignature=sig=1", "UseDevelopmentStorage=false"]
# Usable, and http://: the strict guard refuses them by scheme before any DNS lookup or connection.
GOOD = ["UseDevelopmentStorage=true", "DefaultEndpointsProtocol=http;AccountName=leads;AccountKey=c2VjcmV0",
        "TableEndpoint=http://127.0.0.1:9/x;SharedAccessSignature=sv=1&sig=2"]


@pytest.mark.parametrize("conn", BAD + GOOD)
async def test_validation_and_packaging_agree_on_every_connection_string(conn: str) -> None:
    refused_by_validation = connection_problem(conn, "table") is not None
    sender = AzureTableSender(TargetGuard(named_policy(False)), 1.0)
    lead = lead_rules.make_test_lead("r", "c", "o", {})
    try:
        await sender.send(lead, {"connectionString": conn})
    except LeadConfigError as exc:
        assert refused_by_validation, exc
        assert "connectionString is not usable" in str(exc) and "c2VjcmV0" not in str(exc)
    except LeadRefused as exc:  # usable, so it went on to the target check
        assert not refused_by_validation and "the URL is not allowed" in str(exc)
    else:
        raise AssertionError("a strict guard never reaches a private or unresolvable host")


# --- SAS: no signature, the token goes in the query -----------------------------------------------


@pytest.fixture
async def blob_server() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append({"method": request.method, "path": request.path, "query": dict(request.query),
                     "auth": request.headers.get("Authorization"), "body": await request.read()})
        return web.Response(status=201)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield name_local(str(server.make_url("/acct"))), seen
    finally:
        await server.close()


async def test_a_sas_connection_string_sends_the_token_and_no_signature(
        blob_server: tuple[str, list[dict[str, Any]]]) -> None:
    url, seen = blob_server
    conn = f"BlobEndpoint={url};SharedAccessSignature=?sv=2022-11-02&sp=cw&sig=S1GN%3D"
    check = await router().send_test_lead("run-1", "c", "o", definition(
        "AzureBlob", "blobLeadConfiguration", connectionString=conn, containerName="leads"))
    assert check.status == "sent", check.message
    assert "S1GN" not in check.message and "sig=" not in check.message
    assert [(s["method"], s["path"]) for s in seen] == [
        ("PUT", "/acct/leads"), ("PUT", f"/acct/leads/{_lead_id()}.json")]
    assert all(s["auth"] is None and s["query"]["sig"] == "S1GN=" for s in seen)
    assert seen[0]["query"]["restype"] == "container"
    assert json.loads(seen[1]["body"])["OfferTitle"] == TITLE


def _lead_id(run: str = "run-1") -> str:
    return lead_rules.make_test_lead(run, "c", "o", {}).lead_id


# --- against Azurite ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[azurite.Azurite]:
    if not azurite.installed():
        message = f"Azurite {azurite.VERSION} is not installed in {azurite.home()}: run scripts/install"
        if os.environ.get("OFFERFLOW_TEST_RUN_DIR"):  # make test: a missing emulator is a failure
            pytest.fail(message)
        pytest.skip(message)
    emulator = azurite.Azurite(tmp_path_factory.mktemp("azurite"))
    emulator.start()
    for endpoint in re.findall(r"(?:Blob|Table)Endpoint=([^;]+)", emulator.connection_string()):
        name_local(endpoint)  # as the dev stack names its Azurite
    try:
        yield emulator
    finally:
        emulator.stop()


async def _read(conn: str, service: Any, path: str) -> httpx.Response:
    client = _StorageClient(parse_storage_connection(conn, service), service, TargetGuard(named_policy()), 10.0, True)
    headers = {"Accept": "application/json;odata=nometadata"} if service == "table" else {}
    return await client.send("GET", path, headers)


@pytest.mark.integration
async def test_azure_table_receives_the_lead_once(storage: azurite.Azurite) -> None:
    # The form a publisher pastes for a local Azurite: only a TableEndpoint, path-style.
    conn = (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={azurite.KEY};"
            f"TableEndpoint=http://127.0.0.1:{storage.table_port}/devstoreaccount1;")
    assert connection_problem(conn, "table") is None
    doc = definition("AzureTable", "tableLeadConfiguration", connectionString=conn)
    for expected in ("", " (already stored)"):  # the second is a redelivery
        check = await router().send_test_lead("run-7", "contoso", "web", doc)
        assert check.status == "sent", check.message
        assert check.message.endswith(f"/devstoreaccount1/{TABLE_NAME}{expected}.")
        assert "AccountKey" not in check.message and azurite.KEY not in check.message
    lead_id = lead_rules.make_test_lead("run-7", "contoso", "web", doc).lead_id
    got = await _read(conn, "table", f"{TABLE_NAME}(PartitionKey='AzureMarketplace',RowKey='{lead_id}')")
    assert got.status_code == 200, got.text
    entity = got.json()
    assert entity["LeadSource"] == f"AzureMarketplace-INS | {TITLE}" and entity["OfferTitle"] == TITLE
    assert entity["Email"].endswith("@example.com") and entity["LeadId"] == lead_id
    every = await _read(conn, "table", f"{TABLE_NAME}()")
    assert [e["RowKey"] for e in every.json()["value"]] == [lead_id]


@pytest.mark.integration
async def test_azure_table_with_the_generic_configuration_and_the_table_key(storage: azurite.Azurite) -> None:
    doc = definition("Table", "leadConfiguration", tableConnectionString=storage.connection_string())
    check = await router().send_test_lead("run-8", "contoso", "web", doc)
    assert check.status == "sent", check.message


@pytest.mark.integration
async def test_a_wrong_account_key_fails_with_a_clear_message(storage: azurite.Azurite) -> None:
    wrong = base64.b64encode(b"not the key of this account").decode()
    conn = storage.connection_string().replace(azurite.KEY, wrong)
    check = await router().send_test_lead("run-9", "contoso", "web", definition(
        "AzureTable", "tableLeadConfiguration", connectionString=conn))
    assert check.status == "failed"
    assert "HTTP 403" in check.message and "refused the credentials" in check.message, check.message
    assert wrong not in check.message


@pytest.mark.integration
async def test_azure_blob_receives_the_lead_as_a_json_document(storage: azurite.Azurite) -> None:
    conn = storage.connection_string()
    doc = definition("AzureBlob", "blobLeadConfiguration", connectionString=conn, containerName="offer-leads")
    for _ in range(2):  # the container exists the second time; the same name and bytes are written again
        check = await router().send_test_lead("run-1", "c", "o", doc)
        assert check.status == "sent", check.message
    name = f"{_lead_id()}.json"
    assert check.message.endswith(f"/devstoreaccount1/offer-leads/{name}.")
    got = await _read(conn, "blob", f"offer-leads/{name}")
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["LeadId"] == _lead_id() and body["OfferTitle"] == TITLE
    assert set(body["UserDetails"]) == {"Company", "Country", "Email", "FirstName", "LastName", "Phone", "Title"}


@pytest.mark.integration
async def test_strict_mode_refuses_the_local_emulator(storage: azurite.Azurite) -> None:
    check = await router(named=False).send_test_lead("r", "c", "o", definition(
        "AzureTable", "tableLeadConfiguration", connectionString=storage.connection_string()))
    assert check.status == "failed" and "the URL is not allowed" in check.message, check.message
