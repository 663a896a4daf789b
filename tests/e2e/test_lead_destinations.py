"""An Azure Table lead destination through the whole pipeline: the API accepts the connection string, seals it,
packaging unseals it and the test lead lands in the stack's Azurite; one packaging cannot use is refused on write.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import pytest
from stack import Stack

from offerflow_packaging import lead_rules
from offerflow_packaging.adapters.lead_azure import TABLE_NAME, _StorageClient
from offerflow_packaging.adapters.lead_http import TargetGuard
from offerflow_shared.egress_policy import EgressPolicy
from offerflow_shared.offer_rules.connection_strings import parse_storage_connection
from tests.e2e.client import Api, offer_doc, unique
from tests.images.builder import build_linux_vhd

pytestmark = pytest.mark.e2e

MARKET = "microsoft-azure-marketplace."


@pytest.fixture
def api(stack: Stack, e2e_token: str) -> Api:
    return Api(stack.api_url, e2e_token)


@pytest.fixture
def azurite_connection() -> str:
    conn = os.environ.get("OFFERFLOW_AZURITE_CONNECTION_STRING")
    if not conn:  # deploy/dev/stack.py with-infra starts Azurite and exports its connection string
        pytest.fail("OFFERFLOW_AZURITE_CONNECTION_STRING is not set: run under deploy/dev/stack.py with-infra")
    return conn


def test_an_azure_table_lead_lands_in_azurite(stack: Stack, api: Api, azurite_connection: str,
                                              tmp_path: Path) -> None:
    offer = unique("lead-table")
    doc = offer_doc(build_linux_vhd(tmp_path / "os.vhd"))
    fields = doc["definition"]["offer"]
    fields[MARKET + "title"] = offer  # finds this offer's entity among the others in the table
    fields[MARKET + "leadDestination"] = "AzureTable"
    fields[MARKET + "tableLeadConfiguration"] = {"connectionString": azurite_connection}
    assert api.put(offer, doc).status_code == 201
    assert api.publish(offer).status_code == 202
    status = api.wait_status(offer, lambda d: d["status"] in ("waitingForPublisherReview", "failed"), timeout=180)
    assert status["status"] == "waitingForPublisherReview", status
    step = {s["id"]: s for s in status["steps"]}["displaypackage"]
    text = " ".join(m["messageHtml"] for m in step["messages"])
    assert "test lead sent to the table destination" in text and "AccountKey" not in text, text

    conn = parse_storage_connection(azurite_connection, "table")
    table = httpx.URL(conn.endpoint("table"))
    named = EgressPolicy(allowed=frozenset({(table.host, table.port or 80)}))  # Azurite, as the stack names it
    client = _StorageClient(conn, "table", TargetGuard(named), 10.0, True)
    title = offer

    async def entities() -> list[dict[str, str]]:
        got = await client.send("GET", f"{TABLE_NAME}()", {"Accept": "application/json;odata=nometadata"})
        assert got.status_code == 200, got.text
        return [e for e in got.json()["value"] if e["OfferTitle"] == title]

    (entity,) = asyncio.run(entities())
    assert entity["LeadSource"] == f"AzureMarketplace-INS | {title}"
    assert entity["PartitionKey"] == lead_rules.SOURCE and entity["Email"].endswith("@example.com")


def test_a_connection_string_packaging_cannot_use_is_refused_on_write(api: Api, tmp_path: Path) -> None:
    doc = offer_doc(build_linux_vhd(tmp_path / "os.vhd"))
    fields = doc["definition"]["offer"]
    fields[MARKET + "leadDestination"] = "AzureTable"
    fields[MARKET + "tableLeadConfiguration"] = {"connectionString": "AccountName=leads;AccountKey=not-base64!"}
    r = api.put(unique("lead-bad"), doc)
    assert r.status_code == 400, r.text
    (detail,) = [d for d in r.json()["error"]["details"] if d["target"].endswith("/connectionString")]
    assert detail["target"] == f"/definition/offer/{MARKET}tableLeadConfiguration/connectionString"
    assert "AccountKey is not valid base64" in detail["message"] and "not-base64" not in detail["message"]
