"""No cross-publisher facts on the running stack (issue 13): two publishers publish the very same image bytes.

Publisher B must be certified afresh and learn nothing of publisher A: not A's run id (which "Reused report of
run …" used to tell), not A's publisher or offer id, in no response, event, mail or metric. Reuse is per
publisher (services/certification/README.md, *Reuse*).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from stack import Stack, create_publisher

from offerflow_contract import topics
from tests.e2e.client import Api, V, offer_doc, unique
from tests.images.builder import build_linux_vhd
from tests.security.kafka_records import read_records
from tests.security.sinkmail import wait_mails

pytestmark = pytest.mark.e2e

SIGNOFF = ("waitingForPublisherReview", "failed")


@dataclass(frozen=True)
class Published:
    api: Api
    offer: str
    run_id: str
    owner: str  # the notification address
    operation: str  # the operation's path


def publish(api: Api, image: Path) -> Published:
    offer, owner = unique("xp"), f"{uuid.uuid4().hex[:10]}@{api.publisher}.example"
    assert api.put(offer, offer_doc(image, publisher=api.publisher)).status_code == 201
    r = api.publish(offer, owner)
    assert r.status_code == 202, r.text
    doc = api.wait_status(offer, lambda d: d["status"] in SIGNOFF, timeout=240)
    assert doc["status"] == "waitingForPublisherReview", doc
    return Published(api, offer, doc["runId"], owner, httpx.URL(r.headers["Location"]).path)


@pytest.fixture(scope="module")
def pair(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> tuple[Published, Published]:
    """A's offer certified first, then B's with a byte-identical copy of the same image (same SHA-256)."""
    built = build_linux_vhd(tmp_path_factory.mktemp("xp") / "os.vhd")
    a = Api(stack.api_url, create_publisher(stack, "xp-pub-a"), publisher="xp-pub-a")
    b = Api(stack.api_url, create_publisher(stack, "xp-pub-b"), publisher="xp-pub-b")
    # offer_doc puts each publisher's own copy in its own folder of the file root (the only file:// it may name).
    return publish(a, built), publish(b, built)


def facts_of(p: Published) -> list[str]:
    return [p.run_id, p.api.publisher, p.offer, p.owner]


def certification(p: Published) -> dict[str, Any]:
    r = p.api.http.get(p.operation + "/certification", params=V)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_the_same_bytes_are_certified_afresh_for_another_publisher(pair: tuple[Published, Published]) -> None:
    a, b = pair
    report_a, report_b = certification(a), certification(b)
    assert report_a["TestResult"] == report_b["TestResult"] == "Pass"
    shas_a = [d["sha256"] for d in report_a["reports"]]
    assert shas_a and shas_a == [d["sha256"] for d in report_b["reports"]], "not the same bytes"
    # Not reused (which named A's run), and not cut short: B's report holds every test A's does.
    assert [d.get("reusedFromRun") for d in report_b["reports"]] == [None] * len(shas_a), report_b["reports"]
    assert [len(d["Tests"]) for d in report_b["reports"]] == [len(d["Tests"]) for d in report_a["reports"]]
    assert a.run_id != b.run_id


def test_b_sees_nothing_of_a_in_any_response(pair: tuple[Published, Published]) -> None:
    a, b = pair
    api, offer = b.api, b.offer
    responses = [api.http.get(api.offer_url(offer, suffix), params=V)
                 for suffix in ("", "/status", "/history", "/submissions", "/validation", "/slot/Draft",
                                "/slot/Preview")]
    responses += [api.http.get(b.operation, params=V), api.http.get(b.operation + "/certification", params=V),
                  api.http.get(f"/api/publishers/{api.publisher}/offers", params=V)]
    assert any(b.run_id in r.text for r in responses), "B's own run is not in its responses"
    for r in responses:
        assert r.status_code in (200, 404), (r.url, r.status_code)
        for fact in facts_of(a):
            assert fact not in r.text, (fact, r.url)
        assert "Reused report" not in r.text and "already certified" not in r.text, r.url


def test_b_mails_carry_nothing_of_a(stack: Stack, pair: tuple[Published, Published]) -> None:
    a, b = pair
    mails = wait_mails(stack, b.owner, 2)  # publish accepted, preview ready
    for msg in mails:
        text = msg.as_string()
        assert b.offer in text
        for fact in facts_of(a):
            assert fact not in text, (fact, msg["Subject"])


def _records_of(bootstrap: str, offer: str) -> list[str]:
    """Every record keyed by ``offer`` on the stage topics and the notifications topic."""
    names = [t.name for t in (topics.VALIDATION, topics.CERTIFICATION, topics.PROVISIONING, topics.STAGING,
                              topics.PACKAGING, topics.NOTIFICATIONS)]
    return [rec.value.decode(errors="replace") for rec in read_records(bootstrap, names, seconds=60)
            if rec.key == offer.encode() and rec.value is not None]


def test_b_events_carry_nothing_of_a(stack: Stack, pair: tuple[Published, Published]) -> None:
    a, b = pair
    records = _records_of(stack.kafka_bootstrap, b.offer)
    assert any("certification.passed" in r for r in records), "B's certification events were not read"
    for record in records:
        for fact in facts_of(a):
            assert fact not in record, (fact, record[:300])
        assert "Reused report" not in record, record[:300]


def test_metrics_name_no_publisher_offer_or_run(stack: Stack, pair: tuple[Published, Published]) -> None:
    a, b = pair
    urls = [f"{stack.api_url}/metrics"] + [f"http://127.0.0.1:{port}/metrics" for port in stack.ports.web.values()]
    for url in urls:
        r = httpx.get(url, timeout=30)
        assert r.status_code == 200, url
        # Label values are services, event types, topics, partitions, steps and outcomes: never an identity.
        for fact in (*facts_of(a), *facts_of(b)):
            assert fact not in r.text, (fact, url)
