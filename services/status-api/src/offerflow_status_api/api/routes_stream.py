"""Server-sent events: an offer's status document, and the publisher's offers, pushed whenever they change.

- ``…/offers/{id}/status/stream``: ``event: status`` with the document ``GET …/status`` answers, built by the
  same builder (``status_doc.StatusDocs``), so the measured ETA and the overdue flag are the same on both.
- ``/api/publishers/{id}/stream``: one stream per publisher page, not one per offer: ``event: offers`` with
  every offer as the list shows it, then ``event: offer`` with one offer whenever its status, step or
  ``changedTime`` changes. Only the path's publisher's offers: the token must belong to that publisher.

The portal reads them with fetch() (EventSource cannot send the Authorization header). The read model
is polled, not subscribed to: the projection is another process, and a short poll of one indexed query
per open page is cheaper than a notification channel for the handful of pages a publisher keeps open.

Both kinds share one bound: a token holds at most ``StreamLimits.max_per_token`` streams (429 beyond), and a
revoked token's streams end: at once in the process that revoked it, within ``recheck_seconds`` in any other
(``streams.py``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from offerflow_shared.db import PoolBusy
from offerflow_status_api.api.deps import (
    AppServices,
    Credentials,
    OfferId,
    PublisherId,
    Services,
    StatusDocsDep,
    Version,
    publisher_bearer,
)
from offerflow_status_api.api.errors import ApiError, error_doc
from offerflow_status_api.api.routes_offers import summaries
from offerflow_status_api.api.schemas import StatusDocument
from offerflow_status_api.api.status_doc import StatusDocs
from offerflow_status_api.api.streams import SlotResponse, StreamSlot, token_key

router = APIRouter(prefix="/api/publishers/{publisher_id}", tags=["publishing"])

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
# Bounded so that no connection lives forever; the client reconnects (``retry`` tells it how soon).
LIFETIME_SECONDS = 600.0
RETRY_MS = 1000
FULL_RETRY_AFTER = "5"  # a token's streams are all open: one of them has to close first

Look = Callable[[], Awaitable[list[str]]]  # one poll: the events to send now (none when nothing changed)


def wire(doc: StatusDocument) -> str:
    """The document as ``GET …/status`` sends it (keys a document leaves out stay out)."""
    return json.dumps(doc.model_dump(mode="json", exclude_unset=True), sort_keys=True)


def sse(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


async def always_live() -> bool:
    return True


REVOKED = sse("end", json.dumps({"reason": "revoked", "reconnect": False}))


async def polled_events(request: Request, look: Look, *, slot: StreamSlot | None = None,
                        token_live: Callable[[], Awaitable[bool]] = always_live, recheck: float = 1.0,
                        poll: float = POLL_SECONDS, keepalive: float = KEEPALIVE_SECONDS,
                        lifetime: float = LIFETIME_SECONDS) -> AsyncIterator[str]:
    """The life of every stream: poll ``look``, send what it found, keep the connection alive, re-check the
    token, end at the lifetime or at once when the token is revoked."""
    started = last_write = checked = time.monotonic()
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
            found = await look()
        except PoolBusy:  # a busy moment: the stream stays open and looks again at the next poll
            if await _pause(slot, poll):
                yield REVOKED
                return
            continue
        now = time.monotonic()
        if found:
            last_write = now
            for chunk in found:
                yield chunk
        elif now - last_write >= keepalive:
            last_write = now
            yield ": keep-alive\n\n"
        if await _pause(slot, min(poll, recheck)):
            yield REVOKED
            return
    yield sse("end", json.dumps({"reason": "lifetime", "reconnect": True}))


def status_events(request: Request, docs: StatusDocs, publisher_id: str, offer_id: str,
                  **kw: Any) -> AsyncIterator[str]:
    """The offer's status document, sent whenever it differs from the last one sent."""
    last: str | None = None

    async def look() -> list[str]:
        nonlocal last
        text = wire(await docs.offer_status(publisher_id, offer_id))
        if text == last:
            return []
        last = text
        return [sse("status", text)]

    return polled_events(request, look, **kw)


OfferRows = Callable[[], Awaitable[list[dict[str, Any]]]]
# What a change of an offer's row in the read model is: its status, step, the time it entered the step, its
# latest change and its draft (a save changes the name and version the list shows).
_WATCHED = ("status", "current_step", "step_since", "changed_time", "draft_version", "display_text")


def offer_events(request: Request, rows: OfferRows, offers: OfferRows, **kw: Any) -> AsyncIterator[str]:
    """The publisher's offers: ``event: offers`` with all of them first, then ``event: offer`` per changed one.

    ``rows`` (the read model's rows of the publisher's offers, one indexed query) is polled; ``offers`` (the
    list's summaries, which also read every draft) only when a row changed.
    """
    seen: tuple[Any, ...] | None = None
    sent: dict[str, str] | None = None

    async def look() -> list[str]:
        nonlocal seen, sent
        now = tuple((r.get("offer_id"), *(r.get(k) for k in _WATCHED)) for r in await rows())
        if now == seen:
            return []
        listed = await offers()
        texts = {str(o["id"]): json.dumps(o, sort_keys=True) for o in listed}
        seen, before, sent = now, sent, texts
        if before is None:
            return [sse("offers", json.dumps(listed, sort_keys=True))]
        return [sse("offer", text) for offer_id, text in texts.items() if before.get(offer_id) != text]

    return polled_events(request, look, **kw)


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


def _open_slot(s: AppServices, credentials: Credentials) -> tuple[StreamSlot, Callable[[], Awaitable[bool]]]:
    """A place among the token's streams (429 when it holds the most), and how to re-check the token."""
    assert credentials is not None  # authorized_publisher refused a request without one
    token = credentials.credentials.strip()
    slot = s.streams.open(token_key(token))
    if slot is None:
        limit = s.streams.limits.max_per_token
        raise ApiError(429, "TooManyStreams", f"This token already has {limit} open streams, the most "
                       "allowed; close one first.", retryable=True, headers={"Retry-After": FULL_RETRY_AFTER})

    async def token_live() -> bool:
        return await s.auth.publisher_for(token) is not None

    return slot, token_live


def _response(slot: StreamSlot, events: AsyncIterator[str]) -> SlotResponse:
    return SlotResponse(slot, events, media_type="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


_TOO_MANY = error_doc("The token already holds the most open streams (or its rate limit); "
                      "retry after the seconds in Retry-After")


@router.get("/offers/{offer_id}/status/stream",
            summary="Status as server-sent events (event: status), pushed on every change",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                             "description": "`event: status` whose data is the status document of `GET …/status` "
                                            "(schema StatusDocument); `: keep-alive` comments; `event: end` "
                                            "when the stream ends (its lifetime, or the token was revoked)"},
                       429: _TOO_MANY})
async def status_stream(publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Services,
                        docs: StatusDocsDep, request: Request,
                        credentials: Annotated[Credentials, Depends(publisher_bearer)] = None) -> StreamingResponse:
    if await s.commands.drafts.get(publisher_id, offer_id) is None:
        raise ApiError(404, "NotFound", f"Offer {offer_id} was not found.")
    slot, token_live = _open_slot(s, credentials)
    events = status_events(request, docs, publisher_id, offer_id, slot=slot, token_live=token_live,
                           recheck=s.streams.limits.recheck_seconds)
    return _response(slot, events)


@router.get("/stream", summary="The publisher's offers as server-sent events, each pushed when it changes",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                             "description": "`event: offers` first, whose data is the list of `GET …/offers` "
                                            "(schema OfferSummary); then `event: offer` with one offer whenever "
                                            "its status, step or changedTime changes; `: keep-alive` comments; "
                                            "`event: end` when the stream ends (its lifetime, or the token was "
                                            "revoked)"},
                       429: _TOO_MANY})
async def offers_stream(publisher_id: PublisherId, _: Version, s: Services, request: Request,
                        credentials: Annotated[Credentials, Depends(publisher_bearer)] = None) -> StreamingResponse:
    slot, token_live = _open_slot(s, credentials)

    async def rows() -> list[dict[str, Any]]:
        return await s.read_model.offers(publisher_id)

    async def offers() -> list[dict[str, Any]]:
        return await summaries(s, publisher_id)

    events = offer_events(request, rows, offers, slot=slot, token_live=token_live,
                          recheck=s.streams.limits.recheck_seconds)
    return _response(slot, events)
