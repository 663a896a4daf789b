"""Per-token rate limits: a token bucket per bearer token, one for writes and one for reads, and a cap on the
token's requests in flight (writes and reads apart), answered 429 with ``Retry-After`` before anything else runs
(a small refused body is drained so that the connection stays open, and the server then leaves that connection
unread until its ``Retry-After``, releasing a token's held connections one at a time at its rate: api/server.py).

Why a cap besides the buckets: a bucket lets a burst of its size in at once, and one process serves every
publisher, so a burst of accepted PUTs of one token queue every other publisher behind them for database connections
and the event loop. With the cap a token holds at most a few requests in work at any moment, whatever its
client's concurrency; the rest are refused at once, cheaply. A request stops counting as in flight when its
answer starts (a status stream holds its place in the stream registry, not here).

A pure ASGI middleware, outermost: a refused request costs no body read, no database lookup and no route. Only
the publisher API (``/api/…``) is limited, per token; health, readiness, metrics, the portal's files, the OpenAPI
document and ``/admin`` (and the admin token anywhere) are not. A request without a token is not limited here:
it is refused 401 without touching the database.

The buckets live in this process. Several API processes behind a load balancer each allow the full rate, so
a token may reach N times the rate; a shared limit needs a shared counter (see the README).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from offerflow_status_api.api.errors import ApiError, error_response
from offerflow_status_api.api.server import HOLD_READING, Hold

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_BUCKETS = 10_000  # tokens remembered at once; the least recently used are forgotten first


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("a rate needs per_second > 0 and burst >= 1")


@dataclass(frozen=True)
class RateLimits:
    writes: Rate = Rate(10.0, 20)
    reads: Rate = Rate(50.0, 200)
    writes_in_flight: int = 2
    reads_in_flight: int = 8

    def __post_init__(self) -> None:
        if self.writes_in_flight < 1 or self.reads_in_flight < 1:
            raise ValueError("requests in flight per token must be at least 1")


class Bucket:
    """Holds up to ``burst`` requests and refills at ``per_second``; each request takes one."""

    def __init__(self, rate: Rate, now: float) -> None:
        self.rate, self.tokens, self.at = rate, float(rate.burst), now

    def take(self, now: float) -> float:
        """0 when the request may go, else the seconds until one request fits again."""
        self.tokens = min(float(self.rate.burst), self.tokens + (now - self.at) * self.rate.per_second)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate.per_second


class Limiter:
    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic,
                 max_buckets: int = MAX_BUCKETS) -> None:
        self.limits, self.clock, self.max_buckets = limits, clock, max_buckets
        self._buckets: OrderedDict[tuple[str, bool], Bucket] = OrderedDict()

    def check(self, key: str, write: bool) -> float:
        """0 when the token's request may go, else the seconds to wait."""
        now = self.clock()
        bucket = self._buckets.get((key, write))
        if bucket is None:
            bucket = self._buckets[(key, write)] = Bucket(self.limits.writes if write else self.limits.reads, now)
            while len(self._buckets) > self.max_buckets:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end((key, write))
        return bucket.take(now)


class InFlight:
    """Requests of each token (and kind) being worked on; a key is forgotten when its count drops to zero, so
    the table holds only tokens with work in progress."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._counts: dict[tuple[str, bool], int] = {}

    def enter(self, key: str, write: bool) -> bool:
        """Takes a place for one more request; False (nothing taken) when the token holds the most already."""
        held = self._counts.get((key, write), 0)
        if held >= (self.limits.writes_in_flight if write else self.limits.reads_in_flight):
            return False
        self._counts[(key, write)] = held + 1
        return True

    def leave(self, key: str, write: bool) -> None:
        held = self._counts.get((key, write), 0) - 1
        if held > 0:
            self._counts[(key, write)] = held
        else:
            self._counts.pop((key, write), None)

    def count(self, key: str, write: bool) -> int:
        return self._counts.get((key, write), 0)


def bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() or None if scheme.lower() == "bearer" else None
    return None


# Held connections of a token are released a little slower than its bucket refills: released at exactly the
# rate, the next one came back a few milliseconds before the bucket held a whole request again (the previous one
# was admitted a little after its own release), was refused and queued again at the end, about half of them.
RELEASE_SLACK = 1.2
DRAIN_MAX = 64 * 1024  # a refused body this small is read and dropped, so its connection stays open


async def _drained(scope: Scope, receive: Receive) -> bool:
    """Reads and drops a small declared body (True); a larger, chunked or bodiless-but-unknown one is left (False).

    Why: closing the connection of every refused write makes a busy client reconnect for each next request, and
    accepting connections costs the process more than reading a few kilobytes; a burst's refusals then take the
    event loop away from every other publisher."""
    length = None
    for name, value in scope.get("headers", []):
        if name.lower() == b"transfer-encoding":
            return False
        if name.lower() == b"content-length":
            length = int(value) if value.isdigit() else None
    if length is None or length > DRAIN_MAX:
        return False
    read = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return False
        read += len(message.get("body", b""))
        if read > DRAIN_MAX:
            return False
        if not message.get("more_body", False):
            return True


def retry_after(wait: float) -> int:
    return max(1, math.ceil(wait))


class RateLimit:
    def __init__(self, app: ASGIApp, *, limits: RateLimits, admin_token: str | None = None,
                 limiter: Limiter | None = None) -> None:
        self.app, self.admin_token = app, admin_token
        self.limiter = limiter or Limiter(limits)
        self.in_flight = InFlight(self.limiter.limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = bearer(scope) if scope["type"] == "http" and scope.get("path", "").startswith("/api/") else None
        if token is None or (self.admin_token and hmac.compare_digest(token, self.admin_token)):
            await self.app(scope, receive, send)
            return
        write = scope.get("method", "GET") not in READ_METHODS
        key = hashlib.sha256(token.encode()).hexdigest()
        limits = self.limiter.limits
        # The cap first: a request refused for it takes nothing from the bucket.
        if not self.in_flight.enter(key, write):
            at_once = limits.writes_in_flight if write else limits.reads_in_flight
            await self._refuse(scope, receive, send, write, 1,
                               f"at most {at_once} {'changes' if write else 'reads'} at once per token", key)
            return
        left = False

        def leave() -> None:
            nonlocal left
            if not left:
                left = True
                self.in_flight.leave(key, write)

        try:
            wait = self.limiter.check(key, write)
            if wait > 0:
                leave()
                rate = limits.writes if write else limits.reads
                await self._refuse(scope, receive, send, write, retry_after(wait),
                                   f"at most {rate.per_second:g} per second (bursts of {rate.burst})", key)
                return

            async def send_leaving(message: Message) -> None:
                if message["type"] == "http.response.start":
                    leave()  # the work is done; a stream's place is the stream registry's
                await send(message)

            await self.app(scope, receive, send_leaving)
        finally:
            leave()

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, write: bool, seconds: int, limit: str,
                      key: str) -> None:
        headers = {"Retry-After": str(seconds)}
        if write and not await _drained(scope, receive):
            headers["Connection"] = "close"  # its body was not read, so the connection cannot carry another request
        if "Connection" not in headers:
            # The server leaves this connection unread until then, and releases the token's held connections one
            # at a time at its rate (api/server.py): a flood of refusals would otherwise take the event loop from
            # everyone else.
            rate = self.limiter.limits.writes if write else self.limiter.limits.reads
            scope.setdefault("state", {})[HOLD_READING] = Hold(seconds, (key, write), RELEASE_SLACK / rate.per_second)
        error = ApiError(429, "TooManyRequests",
                         f"Too many {'changes' if write else 'reads'} with this token: {limit}; retry in "
                         f"{seconds} s.", retryable=True, headers=headers)
        await error_response(error)(scope, receive, send)
