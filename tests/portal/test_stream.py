"""The status stream without a browser: what it sends, when it stays quiet, and when it stops."""

from __future__ import annotations

import json
from typing import Any, cast

from starlette.requests import Request

from offerflow_status_api.api.routes_stream import status_events
from offerflow_status_api.api.status_doc import StatusDocs
from offerflow_status_api.status_document import status_document


class FakeReadModel:
    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs
        self.reads = 0

    async def offer(self, publisher_id: str, offer_id: str) -> dict[str, Any]:
        return {"current_run_id": "run-1"}

    async def run_document(self, publisher_id: str, offer_id: str, run_id: str) -> dict[str, Any]:
        doc = self.docs[min(self.reads, len(self.docs) - 1)]
        self.reads += 1
        return doc


class FakeRequest:
    def __init__(self, disconnect_after: int | None = None) -> None:
        self.checks = 0
        self.disconnect_after = disconnect_after

    async def is_disconnected(self) -> bool:
        self.checks += 1
        return self.disconnect_after is not None and self.checks > self.disconnect_after


class NoCommandState:
    """No run accepted by this API process: the stream shows the projection."""

    async def get(self, publisher_id: str, offer_id: str) -> None:
        return None


def document(status: str) -> dict[str, Any]:
    return {**status_document(None), "status": status, "runId": "run-1"}


async def collect(request: FakeRequest, rm: FakeReadModel, **kw: float) -> list[str]:
    docs = StatusDocs(rm, NoCommandState())
    return [chunk async for chunk in status_events(cast(Request, request), docs, "pub", "offer", **kw)]


async def test_sends_each_change_once_then_keepalives_and_ends_at_its_lifetime() -> None:
    running = document("running")
    waiting = document("waitingForPublisherReview")
    rm = FakeReadModel([running, running, waiting, waiting, waiting, waiting, waiting, waiting])
    chunks = await collect(FakeRequest(), rm, poll=0.01, keepalive=0.025, lifetime=0.2)
    assert chunks[0].startswith("retry: ")
    events = [c for c in chunks if c.startswith("event: status")]
    assert [json.loads(e.split("data: ", 1)[1])["status"] for e in events] == ["running", "waitingForPublisherReview"]
    assert any(c.startswith(": keep-alive") for c in chunks)
    assert chunks[-1].startswith("event: end")


async def test_stops_when_the_client_goes_away() -> None:
    rm = FakeReadModel([document("running")])
    chunks = await collect(FakeRequest(disconnect_after=3), rm, poll=0.001, keepalive=60, lifetime=60)
    assert [c for c in chunks if c.startswith("event: status")] and not any(c.startswith("event: end") for c in chunks)
    assert rm.reads == 3
