"""Publisher isolation, body limits, secrets and storefront sanitising against the running stack.

tests/api/test_offers_api.py already covers: no token / revoked token → 401; another publisher's
get/status/history/publish/cancel/golive/validation → 404. This file covers the rest of the matrix on an
offer that has really run (operations, reports, preview), plus what must never leak anywhere.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from stack import Stack, create_publisher

from offerflow_contract import topics
from tests.e2e.client import Api, V, offer_doc, unique
from tests.images.builder import build_linux_vhd
from tests.security.kafka_records import read_records

pytestmark = pytest.mark.e2e

LEAD = "microsoft-azure-marketplace.httpsEndpointLeadConfiguration"
DESCRIPTION = "microsoft-azure-marketplace.description"
HOSTILE = ('<script>alert(1)</script><img src=x onerror=alert(1)><a href="javascript:alert(1)">x</a>'
           "<p>kept</p>")


@pytest.fixture(scope="module")
def owner(stack: Stack) -> Api:
    return Api(stack.api_url, create_publisher(stack, "sec-owner"), publisher="sec-owner")


@pytest.fixture(scope="module")
def intruder(stack: Stack) -> Api:
    return Api(stack.api_url, create_publisher(stack, "sec-intruder"), publisher="sec-intruder")


@pytest.fixture(scope="module")
def published(owner: Api, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """An offer of the owner that has run to sign-off, with hostile HTML in its description."""
    image = build_linux_vhd(tmp_path_factory.mktemp("sec") / "os.vhd")
    offer = unique("sec")
    doc = offer_doc(image, subscriptions=["11111111-2222-3333-4444-555555555555"], publisher="sec-owner")
    doc["definition"]["offer"][DESCRIPTION] = HOSTILE
    assert owner.put(offer, doc).status_code == 201
    published = owner.publish(offer)
    assert published.status_code == 202, published.text
    status = owner.wait_status(offer, lambda d: d["status"] in ("waitingForPublisherReview", "failed"))
    assert status["status"] == "waitingForPublisherReview", status
    yield {"offer": offer, "operation": published.headers["Location"], "status": status}


def test_another_publisher_reaches_nothing_of_the_offer(published: dict[str, Any], owner: Api,
                                                        intruder: Api) -> None:
    offer = published["offer"]
    version = published["status"]["offerVersion"]
    op_path = httpx.URL(published["operation"]).path
    before = owner.http.get(owner.offer_url(offer), params=V).json()
    op = op_path.split(f"/offers/{offer}")[1]
    reads = ("", f"/versions/{version}", "/slot/Draft", "/slot/Preview", "/status", "/history", "/submissions",
             "/validation", op, op + "/certification", op + "/staging", op + "/staging/console")
    writes: tuple[tuple[str, str, Any], ...] = (
        ("PUT", "", before), ("POST", "/publish", {"metadata": {"notification-emails": "x@y.example"}}),
        ("POST", "/golive", {}), ("POST", "/cancel", {}),
        ("POST", "/support", {"title": "t", "description": "d"}),
        ("PUT", "/plans/standard/versions/9.9.9", {"osVhdUrl": "file:///x.vhd", "lunVhdDetails": []}))
    # B's token on A's publisher path, and on B's own path naming A's offer: never found, never 403.
    for base in (owner.offer_url(offer), intruder.offer_url(offer)):
        for suffix in reads:
            r = intruder.http.get(base + suffix, params=V)
            assert r.status_code == 404, (base + suffix, r.status_code, r.text)
        for method, suffix, body in writes:
            if base == intruder.offer_url(offer) and (method, suffix) == ("PUT", ""):
                continue  # that would create B's own offer of the same name (ids are per publisher)
            r = intruder.http.request(method, base + suffix, params=V, json=body, headers={"If-Match": "*"})
            assert r.status_code == 404, (method, base + suffix, r.status_code, r.text)
        with intruder.http.stream("GET", base + "/status/stream", params=V, timeout=10) as r:
            assert r.status_code == 404, (base, r.status_code)
    for path in ("/api/publishers/sec-owner/offers", "/api/publishers/sec-owner/offers?api-version=2017-10-31"):
        assert intruder.http.get(path, params=V).status_code == 404
    assert offer not in intruder.http.get("/api/publishers/sec-intruder/offers", params=V).text
    # Nothing changed: still at sign-off, same draft, no second operation, no go-live.
    after = owner.status(offer)
    assert after["status"] == "waitingForPublisherReview" and after["runId"] == published["status"]["runId"]
    assert owner.http.get(owner.offer_url(offer), params=V).json() == before
    assert len(owner.http.get(owner.offer_url(offer, "/submissions"), params=V).json()) == 1


def test_no_token_reaches_nothing_either(published: dict[str, Any], owner: Api, stack: Stack) -> None:
    anonymous = Api(stack.api_url, None, publisher="sec-owner")
    op = httpx.URL(published["operation"]).path.split(f"/offers/{published['offer']}")[1]
    for suffix in ("", "/status", "/history", "/submissions", "/validation", op + "/staging",
                   op + "/staging/console"):
        assert anonymous.http.get(owner.offer_url(published["offer"], suffix), params=V).status_code == 401
    with anonymous.http.stream("GET", owner.offer_url(published["offer"], "/status/stream"), params=V) as r:
        assert r.status_code == 401


def test_the_preview_needs_a_whitelisted_subscription(published: dict[str, Any]) -> None:
    link = published["status"]["previewLinks"][0]
    assert httpx.get(link).status_code == 200
    base = link.split("subscriptionId=")[0].rstrip("?&")
    for other in (base, base + "?subscriptionId=", base + "?subscriptionId=not-a-guid",
                  base + "?subscriptionId=00000000-0000-0000-0000-000000000000"):
        r = httpx.get(other)
        assert r.status_code == 404, (other, r.status_code)
        assert "kept" not in r.text


def test_mails_are_not_served_by_the_api(stack: Stack, owner: Api) -> None:
    # There is no mail API: mails go out by SMTP only. The development mail sink has its own port (never
    # exposed in production); the publisher API must not serve it under any path.
    for path in ("/api/messages", "/messages", "/mail", "/api/publishers/sec-owner/mails"):
        assert owner.http.get(path, params=V).status_code in (401, 404), path
    assert str(stack.ports.mail_http) != str(stack.ports.api)


def test_storefront_preview_sanitises_offer_html(published: dict[str, Any]) -> None:
    page = httpx.get(published["status"]["previewLinks"][0]).text
    assert "kept" in page
    lowered = page.lower()
    for bad in ("<script>alert", "onerror", "javascript:", "alert(1)"):
        assert bad not in lowered, bad


def test_request_bodies_over_the_limit_are_413(owner: Api) -> None:
    big = {"definition": {"displayText": "x" * (1024 * 1024 + 1)}}
    r = owner.put(unique("big"), big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "PayloadTooLarge"


def test_chunked_bodies_are_bounded_too(owner: Api) -> None:
    """Without Content-Length (chunked transfer) the limit must still hold."""
    def chunks() -> Iterator[bytes]:
        yield b'{"definition": {"displayText": "'
        for _ in range(4 * 1024):
            yield b"x" * 1024
        yield b'"}}'

    r = owner.http.put(owner.offer_url(unique("chunked")), params=V, content=chunks(),
                       headers={"If-Match": "*", "Content-Type": "application/json"})
    assert r.status_code in (400, 413), (r.status_code, r.text[:300])


def _read_all_records(bootstrap: str) -> list[str]:
    records = read_records(bootstrap, topics.all_topic_names(with_dlq=True), seconds=60)
    return [f"{rec.key!r} {rec.value!r} " + " ".join(f"{k}={v!r}" for k, v in rec.headers or ()) for rec in records]


def test_a_planted_lead_secret_appears_nowhere(stack: Stack, owner: Api, tmp_path: Path) -> None:
    marker = unique("PLANTEDSECRET").replace("-", "")
    url = f"https://leads.example.com/hook?code={marker}&sig={marker}"
    offer = unique("secret")
    doc = offer_doc(build_linux_vhd(tmp_path / "os.vhd"), publisher="sec-owner")
    doc["definition"]["offer"]["microsoft-azure-marketplace.leadDestination"] = "HttpsEndpoint"
    doc["definition"]["offer"][LEAD] = {"httpsEndpointUrl": url}
    responses: list[httpx.Response] = [owner.put(offer, doc), owner.publish(offer)]
    assert responses[0].status_code == 201 and responses[1].status_code == 202, responses[1].text
    owner.wait_status(offer, lambda d: d["status"] in ("waitingForPublisherReview", "failed", "succeeded"),
                      timeout=180)
    for suffix in ("", "/status", "/history", "/submissions", "/validation", "/slot/Draft", "/slot/Preview"):
        responses.append(owner.http.get(owner.offer_url(offer, suffix), params=V))
    responses.append(owner.http.get(httpx.URL(responses[1].headers["Location"]).path, params=V))
    responses.append(owner.http.get(httpx.URL(responses[1].headers["Location"]).path + "/certification", params=V))
    responses.append(owner.http.get("/api/publishers/sec-owner/offers", params=V))
    time.sleep(3)  # let the last events of the run reach the notifier and the logs
    for r in responses:
        assert marker not in r.text and marker not in json.dumps(dict(r.headers)), (r.url, r.text[:300])
    records = _read_all_records(stack.kafka_bootstrap)
    assert any(offer in t for t in records), "the run's events were not read"
    assert any("sealed:v1:" in t and offer in t for t in records), "the lead secret was not sealed"
    leaked = [t[:300] for t in records if marker in t]
    assert leaked == [], leaked
    files = [p for d in ("logs", "mail") for p in (stack.run_dir / d).rglob("*") if p.is_file()]
    assert files, "no logs were written"
    for path in files:
        assert marker not in path.read_text(errors="replace"), path
