"""Server-sent events: the offer's status document, pushed whenever it changes.

The portal reads this with fetch() (EventSource cannot send the Authorization header). The read model
is polled, not subscribed to: the projection is another process, and a short poll of one indexed row
per open page is cheaper than a notification channel for the handful of pages a publisher keeps open.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from offerflow_shared.db import PoolBusy
from offerflow_status_api import cancel_view, rules
from offerflow_status_api.api.deps import AppServices, OfferId, PublisherId, Services, Version
from offerflow_status_api.api.errors import ApiError
from offerflow_status_api.commands import CommandService, OfferState, SignOff

router = APIRouter(prefix="/api/publishers/{publisher_id}/offers/{offer_id}", tags=["publishing"])

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
# Bounded so that no connection lives forever; the client reconnects (``retry`` tells it how soon).
LIFETIME_SECONDS = 600.0
RETRY_MS = 1000


async def current_status(s: AppServices, publisher_id: str, offer_id: str,
                         state: OfferState | None = None) -> dict[str, Any]:
    """What ``GET …/status`` answers (and the stream pushes): the projection, with the caller's own writes.

    The command side knows at once what the projection shows a moment later: a run just accepted shows as
    running at step 1, a run just canceled as back at step 1.
    """
    state = state or await s.commands.drafts.get(publisher_id, offer_id)
    view = await s.commands.read_model.offer(publisher_id, offer_id)
    current = (view or {}).get("current_run_id")
    if state is not None and state.run_id is not None:
        if state.run_id != current:
            return rules.accepted_document(state.run_id, offer_id, publisher_id, state.version)
        if state.signoff == SignOff.CANCEL:
            return CommandService.canceled_answer(state).body or {}
    if current:
        doc = await s.commands.read_model.run_document(publisher_id, offer_id, current)
        if doc:
            return cancel_view.offer_status(doc)
    return rules.status_document(None)


def sse(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


async def status_events(request: Request, s: AppServices, publisher_id: str, offer_id: str, *,
                        poll: float = POLL_SECONDS, keepalive: float = KEEPALIVE_SECONDS,
                        lifetime: float = LIFETIME_SECONDS) -> AsyncIterator[str]:
    started = last_write = time.monotonic()
    last: str | None = None
    yield f"retry: {RETRY_MS}\n\n"
    while time.monotonic() - started < lifetime:
        if await request.is_disconnected():
            return
        try:
            text = json.dumps(await current_status(s, publisher_id, offer_id), sort_keys=True)
        except PoolBusy:  # a busy moment: the stream stays open and looks again at the next poll
            await asyncio.sleep(poll)
            continue
        now = time.monotonic()
        if text != last:
            last, last_write = text, now
            yield sse("status", text)
        elif now - last_write >= keepalive:
            last_write = now
            yield ": keep-alive\n\n"
        await asyncio.sleep(poll)
    yield sse("end", json.dumps({"reason": "lifetime", "reconnect": True}))


@router.get("/status/stream", summary="Status as server-sent events (event: status), pushed on every change",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "`event: status` with the status document; `: keep-alive` comments"}})
async def status_stream(publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Services,
                        request: Request) -> StreamingResponse:
    if await s.commands.drafts.get(publisher_id, offer_id) is None:
        raise ApiError(404, "NotFound", f"Offer {offer_id} was not found.")
    return StreamingResponse(status_events(request, s, publisher_id, offer_id), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
