"""Per-token rate limits: a token bucket per bearer token, one for writes and one for reads, answered 429 with
``Retry-After`` before anything else runs.

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

from starlette.types import ASGIApp, Receive, Scope, Send

from offerflow_status_api.api.errors import ApiError, error_response

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
    writes: Rate = Rate(20.0, 60)
    reads: Rate = Rate(50.0, 200)


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


def bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() or None if scheme.lower() == "bearer" else None
    return None


def retry_after(wait: float) -> int:
    return max(1, math.ceil(wait))


class RateLimit:
    def __init__(self, app: ASGIApp, *, limits: RateLimits, admin_token: str | None = None,
                 limiter: Limiter | None = None) -> None:
        self.app, self.admin_token = app, admin_token
        self.limiter = limiter or Limiter(limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = bearer(scope) if scope["type"] == "http" and scope.get("path", "").startswith("/api/") else None
        if token is None or (self.admin_token and hmac.compare_digest(token, self.admin_token)):
            await self.app(scope, receive, send)
            return
        write = scope.get("method", "GET") not in READ_METHODS
        wait = self.limiter.check(hashlib.sha256(token.encode()).hexdigest(), write)
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        rate = self.limiter.limits.writes if write else self.limiter.limits.reads
        seconds = retry_after(wait)
        headers = {"Retry-After": str(seconds)}
        if write:  # its body is never read, so the connection cannot carry another request
            headers["Connection"] = "close"
        error = ApiError(429, "TooManyRequests",
                         f"Too many {'changes' if write else 'reads'} with this token: at most {rate.per_second:g} "
                         f"per second (bursts of {rate.burst}); retry in {seconds} s.", retryable=True,
                         headers=headers)
        await error_response(error)(scope, receive, send)
