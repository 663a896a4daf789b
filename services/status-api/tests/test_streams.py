"""Open status streams per token: the registry's bound, and a stream ending when its token is revoked (at once
through the registry, or at the re-check of the token) — with fakes, no server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from starlette.requests import Request

from offerflow_status_api.adapters.auth import hash_token
from offerflow_status_api.api.routes_stream import REVOKED, status_events
from offerflow_status_api.api.status_doc import StatusDocs
from offerflow_status_api.api.streams import SlotResponse, StreamLimits, StreamRegistry, token_key


class Connected:
    async def is_disconnected(self) -> bool:
        return False


class Docs:
    """A status that changes on every poll, so that every poll writes an event."""

    def __init__(self) -> None:
        self.polls = 0

    async def offer_status(self, publisher_id: str, offer_id: str) -> Any:
        self.polls += 1
        return _Doc(self.polls)


class _Doc:
    def __init__(self, n: int) -> None:
        self.n = n

    def model_dump(self, **_: Any) -> dict[str, Any]:
        return {"status": "running", "poll": self.n}


def events(**kwargs: Any) -> AsyncIterator[str]:
    return status_events(cast(Request, Connected()), cast(StatusDocs, kwargs.pop("docs", Docs())), "p", "o",
                         **kwargs)


def test_a_token_holds_at_most_its_streams_and_a_released_slot_frees_its_place() -> None:
    registry = StreamRegistry(StreamLimits(max_per_token=2))
    a, b = registry.open("t"), registry.open("t")
    assert a is not None and b is not None
    assert registry.open("t") is None
    assert registry.open("other") is not None  # per token
    a.release()
    a.release()  # twice is once
    assert registry.count("t") == 1
    assert registry.open("t") is not None


def test_the_registry_key_is_the_hash_the_database_keeps() -> None:
    assert token_key("ofp_secret") == hash_token("ofp_secret") != "ofp_secret"


async def test_revoking_ends_the_stream_at_once_not_at_the_next_poll() -> None:
    registry = StreamRegistry()
    slot = registry.open("t")
    assert slot is not None
    stream = events(slot=slot, poll=30.0, recheck=30.0)
    assert (await anext(stream)).startswith("retry:")
    assert (await anext(stream)).startswith("event: status")
    pending = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    assert registry.revoke("t") == 1
    assert await asyncio.wait_for(pending, 2) == REVOKED
    assert time.monotonic() - started < 1.0
    assert [c async for c in stream] == []  # nothing after the end


async def test_a_token_revoked_elsewhere_ends_the_stream_at_the_next_recheck() -> None:
    live = [True]
    checks = []

    async def token_live() -> bool:
        checks.append(time.monotonic())
        return live[0]

    stream = events(token_live=token_live, poll=0.01, recheck=0.1)
    chunks = [await anext(stream) for _ in range(3)]
    assert all(c.startswith(("retry:", "event: status")) for c in chunks)
    live[0] = False
    rest = [c async for c in stream]
    assert rest[-1] == REVOKED and len(checks) >= 1
    # Re-checked every recheck seconds, not on every poll.
    assert len(checks) <= 3


async def test_a_slot_response_frees_its_slot_however_the_stream_ends() -> None:
    registry = StreamRegistry(StreamLimits(max_per_token=1))
    slot = registry.open("t")
    assert slot is not None

    async def broken() -> AsyncIterator[str]:
        yield "data: 1\n\n"
        raise RuntimeError("the stream failed")

    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        await asyncio.sleep(10)
        return {"type": "http.disconnect"}

    response = SlotResponse(slot, broken(), media_type="text/event-stream")
    scope = {"type": "http", "asgi": {"spec_version": "2.4"}}
    with pytest.raises(RuntimeError):
        await response(scope, receive, send)
    assert registry.count("t") == 0 and registry.open("t") is not None
