"""The API's HTTP protocol: uvicorn's h11 protocol with two changes.

1. A request head the HTTP parser cannot read (a malformed request line, or headers beyond h11's limit: 16 KiB
   still incomplete, so in practice heads past one read of 64 KiB) is refused by uvicorn before any ASGI
   application or middleware sees it, with a plain-text body. This protocol answers the same 400, with the same
   ``Connection: close``, as ``{"error": {code, message, details}}``, so that every answer of the API is its JSON
   error body.
2. A connection whose request was refused for its token's rate (429, see ratelimit.py) is not read again until
   the ``Retry-After`` it was given has passed. Why: the API is one event loop, and a client with hundreds of
   connections would otherwise have hundreds of requests parsed and refused every few milliseconds, each one
   ahead of another publisher's request in the same queue. Held, the next request waits in the kernel's socket
   buffer and costs the process nothing; the refused client was told to wait that long anyway.
"""

from __future__ import annotations

import asyncio
import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

UNREADABLE = json.dumps({"error": {
    "code": "BadRequest", "details": [],
    "message": "The request cannot be read: its request line or headers are malformed or too large."}}).encode()
# Set in the request's ``scope["state"]`` by whoever refuses it for its rate: seconds to leave the connection unread.
HOLD_READING = "offerflow.hold_reading_seconds"
MAX_HOLD = 10.0  # keeps a hold well inside any client's timeout, whatever Retry-After said


class JsonErrorsProtocol(H11Protocol):
    _held: asyncio.TimerHandle | None = None

    def send_400_response(self, msg: str) -> None:
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        for event in (h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
                      h11.Data(data=UNREADABLE), h11.EndOfMessage()):
            self.transport.write(self.conn.send(event))
        self.transport.close()

    def on_response_complete(self) -> None:
        state = self.scope.get("state") if getattr(self, "scope", None) else None
        hold = state.pop(HOLD_READING, None) if isinstance(state, dict) else None
        if hold and not self.transport.is_closing():
            # Not reading is the whole point: pipelined requests already buffered wait too, since the next cycle
            # only starts when the hold ends.
            self.flow.pause_reading()
            self._held = self.loop.call_later(min(float(hold), MAX_HOLD), self._release)
            return
        super().on_response_complete()

    def _release(self) -> None:
        self._held = None
        if not self.transport.is_closing():
            super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._held is not None:
            self._held.cancel()
            self._held = None
        super().connection_lost(exc)
