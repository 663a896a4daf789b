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
3. The held connections of one token are released in turn, a little slower than its rate (a write bucket of 10
   per second: one every 120 ms, see ratelimit.RELEASE_SLACK), not all together when their ``Retry-After`` ends.
   Why: a client with 200 connections refused in the same second came back in the same millisecond, 200
   requests parsed in one go while another publisher's request waited behind them (measured: the other
   publisher's p99 went from 12 to 50-80 ms), and at most the bucket's refill could be let in anyway. Released
   at the token's rate, most of its released requests are accepted and the event loop sees them one at a time.
   A hold never exceeds ``MAX_HOLD``.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

UNREADABLE = json.dumps({"error": {
    "code": "BadRequest", "details": [],
    "message": "The request cannot be read: its request line or headers are malformed or too large."}}).encode()
# Set in the request's ``scope["state"]`` by whoever refuses it for its rate: a Hold.
HOLD_READING = "offerflow.hold_reading"
MAX_HOLD = 10.0  # keeps a hold well inside any client's timeout, whatever Retry-After said
MAX_QUEUES = 10_000  # release queues remembered at once; past that, those whose last release has passed go


@dataclass(frozen=True)
class Hold:
    seconds: float  # at least this long: the Retry-After the client was given
    queue: Hashable  # the connections released in turn (one token and kind of request)
    spacing: float  # seconds between two releases of the same queue (1 / the token's rate)


class ReleaseSchedule:
    """When each held connection is read again: not before its own hold ends, and not sooner than ``spacing``
    after the previous connection of the same queue."""

    def __init__(self, max_hold: float = MAX_HOLD, max_queues: int = MAX_QUEUES,
                 random: Callable[[], float] = random.random) -> None:
        self.max_hold, self.max_queues, self.random = max_hold, max_queues, random
        self._next: dict[Hashable, float] = {}

    def delay(self, hold: Hold, now: float) -> float:
        """Seconds from ``now`` until the connection is read again; books its place in the queue."""
        at = max(now + hold.seconds, self._next.get(hold.queue, 0.0))
        if at > now + self.max_hold:
            # More connections than the token's rate lets in within the cap: these come back at random over the
            # cap's second half (and most are refused again), not all in the same instant at the cap.
            return self.max_hold * (0.5 + 0.5 * self.random())
        self._next[hold.queue] = at + hold.spacing
        if len(self._next) > self.max_queues:
            self._next = {q: t for q, t in self._next.items() if t > now}
        return at - now

    def __len__(self) -> int:
        return len(self._next)


SCHEDULE = ReleaseSchedule()  # one per process: every connection of the server books in it


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
        if isinstance(hold, Hold) and not self.transport.is_closing():
            # Not reading is the whole point: pipelined requests already buffered wait too, since the next cycle
            # only starts when the hold ends.
            self.flow.pause_reading()
            self._held = self.loop.call_later(SCHEDULE.delay(hold, self.loop.time()), self._release)
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
