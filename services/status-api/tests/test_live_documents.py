"""What the live pages read: the measured ETA in the one status document (and the same on its stream),
``changedTime`` of an offer, and the publisher's offer stream that sends only what changed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

from starlette.requests import Request

from offerflow_contract.steps import StepId, StepStatus
from offerflow_status_api import documents, eta
from offerflow_status_api.api.routes_stream import offer_events, status_events, wire
from offerflow_status_api.api.status_doc import StatusDocs
from offerflow_status_api.status_document import status_document

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CERT = StepId.CERTIFICATION.value


def running_certification(started: datetime) -> dict[str, Any]:
    doc = {**status_document(None), "status": "running", "runId": "run-1", "currentStep": CERT}
    doc["steps"] = [{**s, "status": StepStatus.IN_PROGRESS.value, "startedAt": started.isoformat()}
                    if s["id"] == CERT else s for s in doc["steps"]]
    return doc


class Reads:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    async def offer(self, publisher_id: str, offer_id: str) -> dict[str, Any]:
        return {"current_run_id": "run-1"}

    async def run_document(self, publisher_id: str, offer_id: str, run_id: str) -> dict[str, Any]:
        return self.doc


class NoDrafts:
    async def get(self, publisher_id: str, offer_id: str) -> None:
        return None


class Connected:
    def __init__(self, polls: int) -> None:
        self.polls = polls

    async def is_disconnected(self) -> bool:
        self.polls -= 1
        return self.polls < 0


def step(doc: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(s for s in doc["steps"] if s["id"] == step_id)


# --- the measured ETA ------------------------------------------------------------------------------

def test_a_measured_eta_says_how_many_runs_it_comes_from_and_a_static_one_says_none() -> None:
    stats = {CERT: eta.StepStats(samples=7, p50=120.0, p90=300.0),
             StepId.PROVISIONING.value: eta.StepStats(samples=eta.MIN_SAMPLES - 1, p50=5.0, p90=9.0)}
    out = eta.annotate(running_certification(NOW - timedelta(minutes=2)), stats, NOW)
    cert = step(out, CERT)
    assert (cert["estimatedTimeFrame"], cert["etaSeconds"], cert["etaSamples"], cert["overdue"]) == \
        ("~2 min (90% <5 min)", 300, 7, False)
    provisioning = step(out, StepId.PROVISIONING.value)  # too few samples: the static ETA
    assert provisioning["etaSamples"] is None and provisioning["estimatedTimeFrame"] == "<1 day"


async def test_the_stream_sends_the_document_the_builder_serves_with_measured_eta_and_overdue() -> None:
    async def measured() -> dict[str, eta.StepStats]:
        return {CERT: eta.StepStats(samples=12, p50=60.0, p90=100.0)}

    # Running for 10 minutes with a measured p90 of 100 s: more than twice the ETA, so overdue.
    docs = StatusDocs(Reads(running_certification(NOW - timedelta(minutes=10))), NoDrafts(), measured,
                      now=lambda: NOW)
    served = await docs.offer_status("pub", "offer")
    chunks = [c async for c in status_events(cast(Request, Connected(polls=1)), docs, "pub", "offer",
                                             poll=0.001, keepalive=60, lifetime=60)]
    sent = [json.loads(c.split("data: ", 1)[1]) for c in chunks if c.startswith("event: status")]
    assert sent == [json.loads(wire(served))]
    cert = step(sent[0], CERT)
    assert (cert["etaSeconds"], cert["etaSamples"], cert["overdue"]) == (100, 12, True)


# --- changedTime -----------------------------------------------------------------------------------

def test_changed_time_is_the_read_models_unless_this_request_wrote_later() -> None:
    seen = datetime(2026, 6, 1, 14, 0, tzinfo=UTC)
    assert documents.changed_time({"changed_time": seen}) == "2026-06-01T14:00:00+00:00"
    written = seen + timedelta(seconds=3)
    assert documents.changed_time({"changed_time": seen}, written) == "2026-06-01T14:00:03+00:00"
    assert documents.changed_time({"changed_time": seen}, seen - timedelta(hours=1)) == "2026-06-01T14:00:00+00:00"
    assert documents.changed_time(None, written) == "2026-06-01T14:00:03+00:00"
    assert documents.changed_time(None) is None and documents.changed_time({"changed_time": None}) is None
    east = seen.astimezone(timezone(timedelta(hours=2)))
    assert documents.changed_time({"changed_time": east}) == "2026-06-01T14:00:00+00:00"  # always said in UTC


# --- the publisher's offer stream ------------------------------------------------------------------

class Offers:
    """The read model's rows of a publisher's offers and the list built from them, changed by the test."""

    def __init__(self) -> None:
        self.rows = {"a": {"offer_id": "a", "status": "running", "current_step": "displaydummycertify"},
                     "b": {"offer_id": "b", "status": "neverPublished", "current_step": None}}
        self.listed = 0

    async def read_rows(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.rows.values()]

    async def summaries(self) -> list[dict[str, Any]]:
        self.listed += 1
        return [{"id": r["offer_id"], "status": r["status"], "currentStep": r["current_step"]}
                for r in self.rows.values()]


async def test_the_offer_stream_sends_every_offer_then_only_the_one_that_changed() -> None:
    offers = Offers()
    stream = offer_events(cast(Request, Connected(polls=1000)), offers.read_rows, offers.summaries,
                          poll=0.001, keepalive=60, lifetime=60)
    assert (await anext(stream)).startswith("retry: ")
    first = await anext(stream)
    assert first.startswith("event: offers\n")
    assert [o["id"] for o in json.loads(first.split("data: ", 1)[1])] == ["a", "b"]

    offers.rows["a"] = {**offers.rows["a"], "current_step": "displaycertify"}
    changed = await anext(stream)
    assert changed.startswith("event: offer\n")
    assert json.loads(changed.split("data: ", 1)[1]) == {"id": "a", "status": "running",
                                                          "currentStep": "displaycertify"}
    listed = offers.listed
    offers.rows["b"] = {**offers.rows["b"], "status": "running", "current_step": "displaydummycertify"}
    assert json.loads((await anext(stream)).split("data: ", 1)[1])["id"] == "b"
    assert offers.listed == listed + 1  # one rebuild per change, none for the polls in between
    await stream.aclose()


async def test_an_offer_stream_with_nothing_new_polls_the_rows_only() -> None:
    offers = Offers()
    chunks = [c async for c in offer_events(cast(Request, Connected(polls=20)), offers.read_rows,
                                            offers.summaries, poll=0.001, keepalive=60, lifetime=60)]
    assert [c.split("\n", 1)[0] for c in chunks if c.startswith("event:")] == ["event: offers"]
    assert offers.listed == 1
