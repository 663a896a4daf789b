"""Per-token rate limits: the token bucket's arithmetic on a fake clock, and the middleware in front of the app
(429 in the API's error shape with Retry-After; admin, health and token-less requests untouched)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from offerflow_status_api.api.app import create_app
from offerflow_status_api.api.ratelimit import Bucket, Limiter, Rate, RateLimits, retry_after
from offerflow_status_api.settings import Settings

OFFER = "/api/publishers/contoso/offers/demo?api-version=2017-10-31"
ADMIN = "admin-secret"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_gives_its_burst_then_refills_at_the_rate() -> None:
    bucket = Bucket(Rate(per_second=2.0, burst=3), now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)  # one request refills in 1/rate seconds
    assert bucket.take(0.25) == pytest.approx(0.25)
    assert bucket.take(0.5) == 0.0
    # A long pause refills to the burst, never beyond.
    assert [bucket.take(100.0) for _ in range(4)][-1] > 0


def test_the_limiter_keeps_one_bucket_per_token_and_kind() -> None:
    clock = Clock()
    limiter = Limiter(RateLimits(writes=Rate(1.0, 2), reads=Rate(10.0, 10)), clock=clock)
    assert [limiter.check("t1", write=True) for _ in range(3)] == [0.0, 0.0, pytest.approx(1.0)]
    assert limiter.check("t2", write=True) == 0.0  # another token has its own bucket
    assert limiter.check("t1", write=False) == 0.0  # reads are counted apart from writes
    clock.now += 1.0
    assert limiter.check("t1", write=True) == 0.0


def test_the_limiter_forgets_the_least_recently_used_tokens_beyond_its_size() -> None:
    limiter = Limiter(RateLimits(writes=Rate(1.0, 1)), clock=Clock(), max_buckets=2)
    limiter.check("a", write=True)
    limiter.check("b", write=True)
    limiter.check("a", write=True)  # refused, and now the most recent
    limiter.check("c", write=True)  # forgets b
    assert limiter.check("a", write=True) > 0
    assert limiter.check("b", write=True) == 0.0


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    assert [retry_after(w) for w in (0.01, 1.0, 1.2)] == [1, 1, 2]


async def no_resources(_: FastAPI) -> Callable[[], Awaitable[None]]:
    async def close() -> None:
        return None

    return close


@pytest.fixture
def client() -> Iterator[TestClient]:
    limits = RateLimits(writes=Rate(0.001, 3), reads=Rate(0.001, 5))
    app = create_app(no_resources, rate_limits=limits, admin_token=ADMIN)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "If-Match": "*"}


def test_a_burst_of_writes_from_one_token_gets_429_with_retry_after(client: TestClient) -> None:
    # NUL in the body: the guard answers 400 without a database, after the limiter let the request through.
    body = {"definition": {"displayText": "x\u0000"}}
    assert [client.put(OFFER, json=body, headers=bearer("t1")).status_code for _ in range(3)] == [400] * 3
    r = client.put(OFFER, json=body, headers=bearer("t1"))
    assert r.status_code == 429
    error = r.json()["error"]
    assert error["code"] == "TooManyRequests" and error["retryable"] is True
    assert int(r.headers["Retry-After"]) >= 1
    assert r.headers["Connection"] == "close"  # the unread body cannot stay on the connection
    # Another token is not affected.
    assert client.put(OFFER, json=body, headers=bearer("t2")).status_code == 400


def test_reads_have_their_own_looser_limit(client: TestClient) -> None:
    url = "/api/publishers/contoso/offers/demo%00?api-version=2017-10-31"  # the guard's 400: no database needed
    codes = [client.get(url, headers=bearer("t3")).status_code for _ in range(6)]
    assert codes == [400] * 5 + [429]


def test_admin_health_and_token_less_requests_are_not_limited(client: TestClient) -> None:
    assert all(client.get("/healthz").status_code == 200 for _ in range(10))
    assert all(client.get("/openapi.json").status_code == 200 for _ in range(10))
    body = {"definition": {"displayText": "x\u0000"}}
    assert all(client.put(OFFER, json=body, headers=bearer(ADMIN)).status_code == 400 for _ in range(10))
    # Without a token nothing is counted (the route refuses it 401 without a database lookup).
    assert all(client.put(OFFER, json=body).status_code == 400 for _ in range(10))


def test_settings_refuse_a_burst_below_the_rate() -> None:
    with pytest.raises(ValidationError, match="WRITE_BURST"):
        Settings(write_rate=50, write_burst=10)
    with pytest.raises(ValidationError):
        Settings(max_streams_per_token=0)
    assert Settings().max_runs_per_hour == 30 and Settings().max_offers_per_publisher == 100
