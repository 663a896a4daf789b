"""Server-sent events: the offer's status document, pushed whenever it changes.

The portal reads this with fetch() (EventSource cannot send the Authorization header). The read model
is polled, not subscribed to: the projection is another process, and a short poll of one indexed row
per open page is cheaper than a notification channel for the handful of pages a publisher keeps open.

A token holds at most ``StreamLimits.max_per_token`` streams (429 beyond), and a revoked token's streams end:
at once in the process that revoked it, within ``recheck_seconds`` in any other (``streams.py``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from offerflow_shared.db import PoolBusy
from offerflow_status_api.api.deps import (
    Credentials,
    OfferId,
    PublisherId,
    Services,
    StatusDocsDep,
    Version,
    publisher_bearer,
)
from offerflow_status_api.api.errors import ApiError, error_doc
from offerflow_status_api.api.schemas import StatusDocument
from offerflow_status_api.api.status_doc import StatusDocs
from offerflow_status_api.api.streams import SlotResponse, StreamSlot, token_key

router = APIRouter(prefix="/api/publishers/{publisher_id}/offers/{offer_id}", tags=["publishing"])

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
# Bounded so that no connection lives forever; the client reconnects (``retry`` tells it how soon).
LIFETIME_SECONDS = 600.0
RETRY_MS = 1000
FULL_RETRY_AFTER = "5"  # a token's streams are all open: one of them has to close first


def wire(doc: StatusDocument) -> str:
    """The document as ``GET …/status`` sends it (keys a document leaves out stay out)."""
    return json.dumps(doc.model_dump(mode="json", exclude_unset=True), sort_keys=True)


def sse(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


async def always_live() -> bool:
    return True


REVOKED = sse("end", json.dumps({"reason": "revoked", "reconnect": False}))


async def status_events(request: Request, docs: StatusDocs, publisher_id: str, offer_id: str, *,
                        slot: StreamSlot | None = None, token_live: Callable[[], Awaitable[bool]] = always_live,
                        recheck: float = 1.0, poll: float = POLL_SECONDS, keepalive: float = KEEPALIVE_SECONDS,
                        lifetime: float = LIFETIME_SECONDS) -> AsyncIterator[str]:
    started = last_write = checked = time.monotonic()
    last: str | None = None
    yield f"retry: {RETRY_MS}\n\n"
    while time.monotonic() - started < lifetime:
        if await request.is_disconnected():
            return
        if time.monotonic() - checked >= recheck:
            checked = time.monotonic()
            if not await _still_live(token_live):
                yield REVOKED
                return
        try:
            text = wire(await docs.offer_status(publisher_id, offer_id))
        except PoolBusy:  # a busy moment: the stream stays open and looks again at the next poll
            if await _pause(slot, poll):
                yield REVOKED
                return
            continue
        now = time.monotonic()
        if text != last:
            last, last_write = text, now
            yield sse("status", text)
        elif now - last_write >= keepalive:
            last_write = now
            yield ": keep-alive\n\n"
        if await _pause(slot, min(poll, recheck)):
            yield REVOKED
            return
    yield sse("end", json.dumps({"reason": "lifetime", "reconnect": True}))


async def _pause(slot: StreamSlot | None, seconds: float) -> bool:
    """Waits for the next poll; True at once if the token is revoked in this process meanwhile."""
    if slot is None:
        await asyncio.sleep(seconds)
        return False
    return await slot.wait_revoked(seconds)


async def _still_live(token_live: Callable[[], Awaitable[bool]]) -> bool:
    try:
        return await token_live()
    except PoolBusy:  # cannot look now: the next tick looks again
        return True


@router.get("/status/stream", summary="Status as server-sent events (event: status), pushed on every change",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                             "description": "`event: status` whose data is the status document of `GET …/status` "
                                            "(schema StatusDocument); `: keep-alive` comments; `event: end` "
                                            "when the stream ends (its lifetime, or the token was revoked)"},
                       429: error_doc("The token already holds the most open streams (or its rate limit); "
                                      "retry after the seconds in Retry-After")})
async def status_stream(publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Services,
                        docs: StatusDocsDep, request: Request,
                        credentials: Annotated[Credentials, Depends(publisher_bearer)] = None) -> StreamingResponse:
    if await s.commands.drafts.get(publisher_id, offer_id) is None:
        raise ApiError(404, "NotFound", f"Offer {offer_id} was not found.")
    assert credentials is not None  # authorized_publisher refused a request without one
    token = credentials.credentials.strip()
    slot = s.streams.open(token_key(token))
    if slot is None:
        limit = s.streams.limits.max_per_token
        raise ApiError(429, "TooManyStreams", f"This token already has {limit} open status streams, the most "
                       "allowed; close one first.", retryable=True, headers={"Retry-After": FULL_RETRY_AFTER})

    async def token_live() -> bool:
        return await s.auth.publisher_for(token) is not None

    events = status_events(request, docs, publisher_id, offer_id, slot=slot, token_live=token_live,
                           recheck=s.streams.limits.recheck_seconds)
    return SlotResponse(slot, events, media_type="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
