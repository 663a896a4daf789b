"""The offers API against the real stack, requests and storage: API versions, tokens, ownership, ETags,
round trips, field errors, OpenAPI and write-only secrets (publishing and going live: test_offers_lifecycle)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from stack import Stack, create_publisher

from tests.e2e.client import Api, V, offer_doc, unique

pytestmark = pytest.mark.e2e


def test_every_call_needs_a_known_api_version(api: Api) -> None:
    for params in ({}, {"api-version": "2016-01-01"}):
        r = api.http.get("/api/offerTypes", params=params)
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "InvalidAPIVersion"
        assert "2017-10-31" in r.json()["error"]["message"]
    assert api.http.get("/api/offerTypes", params=V).json()[0]["offerTypeId"] == "microsoft-azure-virtualmachines"


def test_no_token_is_401_and_a_revoked_token_stops_at_once(stack: Stack, image: Path) -> None:
    assert httpx.get(f"{stack.api_url}/api/publishers/e2e/offers", params=V).status_code == 401
    bad = httpx.get(f"{stack.api_url}/api/publishers/e2e/offers", params=V,
                    headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "Unauthorized"
    token = create_publisher(stack, "revokee")
    admin = {"Authorization": f"Bearer {stack.admin_token}"}
    mine = Api(stack.api_url, token, publisher="revokee")
    assert mine.http.get("/api/publishers/revokee/offers", params=V).status_code == 200
    tokens = httpx.get(f"{stack.api_url}/admin/publishers/revokee/tokens", headers=admin).json()
    assert all("token" not in t for t in tokens)
    for t in tokens:
        httpx.delete(f"{stack.api_url}/admin/tokens/{t['id']}", headers=admin)
    assert mine.http.get("/api/publishers/revokee/offers", params=V).status_code == 401


def test_another_publishers_offers_are_404_never_403(stack: Stack, api: Api, image: Path) -> None:
    offer = unique("private")
    assert api.put(offer, offer_doc(image)).status_code == 201
    other = Api(stack.api_url, create_publisher(stack, "intruder"), publisher="e2e")
    for method, suffix, body in (("GET", "", None), ("GET", "/status", None), ("GET", "/history", None),
                                 ("POST", "/publish", {"metadata": {"notification-emails": "x@y.example"}}),
                                 ("POST", "/cancel", {}), ("POST", "/golive", {}), ("GET", "/validation", None)):
        r = other.http.request(method, api.offer_url(offer, suffix), params=V, json=body)
        assert r.status_code == 404, (suffix, r.text)
    assert other.http.get("/api/publishers/e2e/offers", params=V).status_code == 404
    missing = other.http.get(other.offer_url("no-such-offer"), params=V)
    assert missing.status_code == 404 and missing.json() == other.http.get(
        other.offer_url(offer), params=V).json()  # same answer whether or not it exists


def test_put_needs_if_match_and_rejects_stale_etags(api: Api, image: Path) -> None:
    offer = unique("etag")
    doc = offer_doc(image)
    r = api.http.put(api.offer_url(offer), params=V, json=doc)
    assert r.status_code == 400 and r.json()["error"]["code"] == "MissingIfMatch"
    created = api.put(offer, doc)
    assert created.status_code == 201
    assert created.json()["status"] == "neverPublished" and created.json()["version"] == 1
    etag = created.headers["ETag"]
    got = api.http.get(api.offer_url(offer), params=V)
    assert got.headers["ETag"] == etag
    doc["definition"]["displayText"] = "Renamed"
    first = api.put(offer, doc, if_match=etag)
    assert first.status_code == 200 and first.headers["ETag"] != etag
    stale = api.put(offer, doc, if_match=etag)
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "PreconditionFailed"
    assert api.put(offer, doc, if_match="*").status_code == 200  # last writer wins


def test_round_trip_keeps_unknown_keys_verbatim(api: Api, image: Path) -> None:
    offer = unique("roundtrip")
    doc = offer_doc(image)
    doc["definition"]["offer"]["contoso-extension.customThing"] = {"nested": [1, 2, {"a": None}]}
    doc["definition"]["plans"][0]["vendor.flag"] = True
    api.put(offer, doc)
    back = api.http.get(api.offer_url(offer), params=V).json()
    assert back["definition"]["offer"]["contoso-extension.customThing"] == {"nested": [1, 2, {"a": None}]}
    assert back["definition"]["plans"][0]["vendor.flag"] is True
    assert api.put(offer, back).status_code == 200  # any document we returned is accepted


def test_bad_fields_are_400_naming_each_field(api: Api, image: Path) -> None:
    doc = offer_doc(image)
    doc["definition"]["offer"]["microsoft-azure-marketplace.title"] = "x" * 51
    doc["definition"]["plans"][0]["planId"] = "Bad Plan!"
    r = api.put(unique("badfields"), doc)
    assert r.status_code == 400
    targets = {d["target"] for d in r.json()["error"]["details"]}
    assert "/definition/offer/microsoft-azure-marketplace.title" in targets
    assert "/definition/plans/0/planId" in targets
    bad_id = api.http.put(api.offer_url("Bad_Offer-"), params=V, json=doc, headers={"If-Match": "*"})
    assert bad_id.status_code == 400


def test_openapi_is_served(api: Api) -> None:
    spec = api.http.get("/openapi.json").json()
    paths = spec["paths"]
    for p in ("/api/publishers/{publisher_id}/offers/{offer_id}/publish",
              "/api/publishers/{publisher_id}/offers/{offer_id}/slot/{slot_id}",
              "/api/publishers/{publisher_id}/offers/{offer_id}/operations/{operation_id}"):
        assert p in paths
    assert api.http.get("/docs").status_code == 200


def test_lead_secrets_are_write_only_and_never_in_clear_in_events(api: Api, image: Path, stack: Stack) -> None:
    import asyncio
    import json as _json

    import asyncpg  # type: ignore[import-untyped]

    offer = unique("secret")
    planted = "https://leads.example.com/hook?sig=PLANTED-" + unique("s")
    doc = offer_doc(image)
    lead = "microsoft-azure-marketplace.httpsEndpointLeadConfiguration"
    doc["definition"]["offer"]["microsoft-azure-marketplace.leadDestination"] = "HttpsEndpoint"
    doc["definition"]["offer"][lead] = {"httpsEndpointUrl": planted}
    assert api.put(offer, doc).status_code == 201
    got = api.http.get(api.offer_url(offer), params=V).json()
    assert got["definition"]["offer"][lead]["httpsEndpointUrl"] == "********"
    # Sending the placeholder back keeps the stored secret (a GET → PUT round trip loses nothing).
    assert api.put(offer, got).status_code == 200

    async def archived() -> str:
        conn = await asyncpg.connect(stack.dsn)
        try:
            rows = await conn.fetch("SELECT payload FROM event_archive WHERE offer_id = $1", offer)
            drafts = await conn.fetch("SELECT definition FROM drafts WHERE offer_id = $1", offer)
            return _json.dumps([r["payload"] for r in rows] + [d["definition"] for d in drafts])
        finally:
            await conn.close()

    import time

    deadline = time.monotonic() + 20
    text = asyncio.run(archived())
    while "sealed:v1:" not in text and time.monotonic() < deadline:
        time.sleep(0.3)
        text = asyncio.run(archived())
    assert "sealed:v1:" in text
    assert planted not in text and "PLANTED" not in text
    assert "PLANTED" not in api.http.get(api.offer_url(offer, "/history"), params=V).text
