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

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from offerflow_shared.db import PoolBusy
from offerflow_status_api.api.deps import OfferId, PublisherId, Services, StatusDocsDep, Version
from offerflow_status_api.api.errors import ApiError
from offerflow_status_api.api.schemas import StatusDocument
from offerflow_status_api.api.status_doc import StatusDocs

router = APIRouter(prefix="/api/publishers/{publisher_id}/offers/{offer_id}", tags=["publishing"])

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
# Bounded so that no connection lives forever; the client reconnects (``retry`` tells it how soon).
LIFETIME_SECONDS = 600.0
RETRY_MS = 1000


def wire(doc: StatusDocument) -> str:
    """The document as ``GET …/status`` sends it (keys a document leaves out stay out)."""
    return json.dumps(doc.model_dump(mode="json", exclude_unset=True), sort_keys=True)


def sse(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


async def status_events(request: Request, docs: StatusDocs, publisher_id: str, offer_id: str, *,
                        poll: float = POLL_SECONDS, keepalive: float = KEEPALIVE_SECONDS,
                        lifetime: float = LIFETIME_SECONDS) -> AsyncIterator[str]:
    started = last_write = time.monotonic()
    last: str | None = None
    yield f"retry: {RETRY_MS}\n\n"
    while time.monotonic() - started < lifetime:
        if await request.is_disconnected():
            return
        try:
            text = wire(await docs.offer_status(publisher_id, offer_id))
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
            responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                             "description": "`event: status` whose data is the status document of `GET …/status` "
                                            "(schema StatusDocument); `: keep-alive` comments"}})
async def status_stream(publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Services,
                        docs: StatusDocsDep, request: Request) -> StreamingResponse:
    if await s.commands.drafts.get(publisher_id, offer_id) is None:
        raise ApiError(404, "NotFound", f"Offer {offer_id} was not found.")
    return StreamingResponse(status_events(request, docs, publisher_id, offer_id), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
