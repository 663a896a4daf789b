"""One builder of the status document: ``GET …/status`` and the status stream send the same document for the
same state (the caller's own writes, the projection, the measured ETA and the overdue flag), and the typed
response models carry every key the renderers write."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from starlette.requests import Request

from offerflow_contract.envelope import Envelope, Event, wrap
from offerflow_contract.events import (
    CertificationFailed,
    CertificationStarted,
    OfferSnapshot,
    PackagingPassed,
    PreviewReady,
    ProvisioningPassed,
    PublishRequested,
    Reason,
    ValidationPassed,
    ValidationStarted,
)
from offerflow_contract.steps import StepId
from offerflow_status_api import eta
from offerflow_status_api.api import deps
from offerflow_status_api.api.app import create_app
from offerflow_status_api.api.routes_stream import status_events
from offerflow_status_api.api.schemas import OperationDocument, StatusDocument
from offerflow_status_api.commands import Cancel, CommandService, Publish, SaveDraft
from offerflow_status_api.commands.lifecycle import RunLifecycle
from offerflow_status_api.commands.memory import MemoryCommandStore
from offerflow_status_api.projection.fold import fold_run
from offerflow_status_api.status_document import CANCELED_MESSAGE, accepted_document, status_document

PUB, OFFER, TOKEN = "contoso", "web", "secret-token"
V = {"api-version": "2017-10-31"}
STATUS_URL = f"/api/publishers/{PUB}/offers/{OFFER}/status"
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)  # a step started then and still running is overdue today
# Certification measured: p50 10 min, p90 20 min (5 samples: enough to replace the static ETA).
STATS = {StepId.CERTIFICATION.value: eta.StepStats(samples=5, p50=600.0, p90=1200.0)}


class Projection:
    """The read model as the projection leaves it, after reading only the events it was given."""

    def __init__(self) -> None:
        self.events: list[Envelope] = []

    def read(self, envelopes: list[Envelope]) -> None:
        self.events += [e for e in envelopes if e not in self.events]

    def _runs(self) -> dict[str, Any]:
        ids = {e.run_id for e in self.events if e.run_id}
        views = [fold_run(r, [e for e in self.events if e.run_id == r]) for r in ids]
        return {v.run_id: v for v in views if v.requested}

    async def offer(self, publisher_id: str, offer_id: str) -> dict[str, Any] | None:
        runs = sorted(self._runs().values(), key=lambda v: v.offer_version or 0)
        return {"current_run_id": runs[-1].run_id} if runs else None

    async def run_document(self, publisher_id: str, offer_id: str, run_id: str) -> dict[str, Any] | None:
        view = self._runs().get(run_id)
        if view is None:
            return None
        # What the read model stores for a run (adapters/read_model.py).
        return {**status_document(view), "cancellationRequestState": view.cancellation_request_state}


class Auth:
    async def publisher_for(self, token: str) -> str | None:
        return PUB if token == TOKEN else None


class Log:
    async def record(self, *args: Any, **kwargs: Any) -> None:
        return None


class OpenUntil:
    """A stream's client that goes away after the first poll."""

    def __init__(self) -> None:
        self.checks = 0

    async def is_disconnected(self) -> bool:
        self.checks += 1
        return self.checks > 1


async def measured() -> dict[str, eta.StepStats]:
    return STATS


class World:
    def __init__(self) -> None:
        self.store = MemoryCommandStore()
        self.projection = Projection()
        self.commands = CommandService(store=self.store, read_model=self.projection)
        self.services = deps.AppServices(commands=self.commands, read_model=cast(Any, self.projection),
                                         auth=cast(Any, Auth()), log=cast(Any, Log()), admin_token=None,
                                         public_url="http://portal.example", step_stats=measured)
        self.app: FastAPI = create_app(no_resources)
        self.app.state.services = self.services
        self.run_id = ""

    async def publish(self) -> None:
        answer = await self.commands.publish(Publish(publisher_id=PUB, offer_id=OFFER,
                                                     notification_emails=["a@b.example"], requested_by=PUB))
        assert answer.status == 202 and answer.run_id
        self.run_id = answer.run_id

    def stage(self, *events: Event, start: datetime = LONG_AGO) -> list[Envelope]:
        return [wrap(e, offer_id=OFFER, publisher_id=PUB, run_id=self.run_id, producer="test",
                     occurred_at=start + timedelta(seconds=i)) for i, e in enumerate(events)]

    async def get(self, path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return await client.get(path, params=V, headers={"Authorization": f"Bearer {TOKEN}"})

    async def streamed(self) -> dict[str, Any]:
        chunks = [c async for c in status_events(cast(Request, OpenUntil()), await deps.status_docs(self.services),
                                                 PUB, OFFER, poll=0.0)]
        events = [c for c in chunks if c.startswith("event: status")]
        assert len(events) == 1
        loaded: dict[str, Any] = json.loads(events[0].split("data: ", 1)[1])
        return loaded

    async def both(self) -> dict[str, Any]:
        """The status by GET and by the stream, which must be the same document."""
        got = await self.get(STATUS_URL)
        assert got.status_code == 200, got.text
        assert got.json() == await self.streamed()
        body: dict[str, Any] = got.json()
        return body


async def no_resources(_: FastAPI) -> Any:
    async def close() -> None:
        return None

    return close


@pytest.fixture
async def world() -> World:
    w = World()
    await w.commands.save_draft(SaveDraft(publisher_id=PUB, offer_id=OFFER, offer_type_id="vm",
                                          definition={"displayText": "Web"}, if_match="*"))
    return w


def snapshot(version: int) -> OfferSnapshot:
    return OfferSnapshot(offer_version=version, definition={}, notification_emails=["a@b.example"])


async def test_an_offer_never_published(world: World) -> None:
    doc = await world.both()
    assert doc["status"] == "neverPublished" and "runId" not in doc
    assert all(s["overdue"] is False for s in doc["steps"])


async def test_a_run_just_published_shows_at_step_1_before_the_projection_reads_it(world: World) -> None:
    await world.publish()
    doc = await world.both()
    assert (doc["status"], doc["runId"], doc["currentStep"]) == ("running", world.run_id, StepId.VALIDATION.value)
    assert doc["cancellationRequestState"] == "cannotCancel"


async def test_a_late_step_carries_the_measured_eta_and_the_overdue_flag(world: World) -> None:
    await world.publish()
    world.projection.read(world.store.outbox)
    world.projection.read(world.stage(ValidationStarted(), ValidationPassed(offer=snapshot(2)),
                                      CertificationStarted()))
    doc = await world.both()
    cert = next(s for s in doc["steps"] if s["id"] == StepId.CERTIFICATION.value)
    assert cert["status"] == "inProgress"
    assert (cert["estimatedTimeFrame"], cert["etaSeconds"], cert["overdue"]) == ("~10 min (90% <20 min)", 1200, True)
    validation = next(s for s in doc["steps"] if s["id"] == StepId.VALIDATION.value)
    assert validation["overdue"] is False and validation["status"] == "complete"


async def test_a_run_just_canceled_shows_back_at_step_1_before_the_projection_reads_the_cancel(
        world: World) -> None:
    await world.publish()
    world.projection.read(world.store.outbox)
    at_signoff = world.stage(ValidationPassed(offer=snapshot(2)), ProvisioningPassed(offer=snapshot(2), disks=[],
                                                                                     replicas=[]),
                             PackagingPassed(offer=snapshot(2), preview_links=["http://x"]),
                             PreviewReady(offer_version=2, preview_links=["http://x"], audience=[],
                                          notification_emails=[]), start=datetime.now(UTC))
    world.projection.read(at_signoff)
    for env in at_signoff:
        await RunLifecycle(world.store).apply(env, env.event())
    assert (await world.both())["status"] == "waitingForPublisherReview"

    answer = await world.commands.cancel(Cancel(publisher_id=PUB, offer_id=OFFER, requested_by=PUB))
    assert answer.status == 200
    before = await world.both()  # the projection has not read the cancel yet
    assert before["status"] == "canceled" and before["currentStep"] == StepId.VALIDATION.value
    assert before["steps"][0]["messages"][0]["messageHtml"] == CANCELED_MESSAGE
    world.projection.read(world.store.outbox)
    assert await world.both() == before  # nothing moves once the projection catches up


async def test_the_operation_is_built_by_the_same_builder(world: World) -> None:
    await world.publish()
    got = await world.get(f"/api/publishers/{PUB}/offers/{OFFER}/operations/{world.run_id}")
    assert got.status_code == 200
    body = got.json()
    assert (body["id"], body["publishingVersion"], body["status"]) == (world.run_id, 2, "running")
    assert all("overdue" in s and "etaSeconds" in s for s in body["steps"])
    missing = await world.get(f"/api/publishers/{PUB}/offers/{OFFER}/operations/no-such-run")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NotFound"


# --- the response models carry every key the renderers write ----------------------------------------

def failed_run() -> list[Envelope]:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    events: list[Event] = [
        PublishRequested(offer=snapshot(3), requested_by=PUB), ValidationStarted(message="checking"),
        ValidationPassed(offer=snapshot(3), warnings=[Reason(code="w", field="/x", message="<b>careful</b>",
                                                               level="warning")]),
        CertificationFailed(summary="bad image", reasons=[Reason(code="c1", field="/plans/0", message="no ssh")])]
    return [wrap(e, offer_id=OFFER, publisher_id=PUB, run_id="r1", producer="t", occurred_at=t0 + timedelta(
        seconds=i)) for i, e in enumerate(events)]


@pytest.mark.parametrize("doc", [
    status_document(None),
    status_document(None, emails=["a@b.example"]),
    accepted_document("r1", OFFER, PUB, 2),
    status_document(fold_run("r1", failed_run())),
], ids=["never", "never-with-emails", "accepted", "failed"])
def test_the_wire_keeps_every_key_of_a_rendered_document(doc: dict[str, Any]) -> None:
    served = eta.annotate(doc, STATS, datetime(2026, 1, 2, tzinfo=UTC))
    assert StatusDocument.model_validate(served).model_dump(mode="json", exclude_unset=True) == served
    operation = {**served, "id": "r1", "publishingVersion": served.get("offerVersion")}
    assert OperationDocument.model_validate(operation).model_dump(mode="json", exclude_unset=True) == operation
