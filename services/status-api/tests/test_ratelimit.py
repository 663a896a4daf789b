"""Per-token rate limits: the token bucket's arithmetic on a fake clock, and the middleware in front of the app
(429 in the API's error shape with Retry-After; admin, health and token-less requests untouched)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from offerflow_status_api.api.app import create_app
from offerflow_status_api.api.ratelimit import Bucket, InFlight, Limiter, Rate, RateLimit, RateLimits, retry_after
from offerflow_status_api.settings import Settings
from tests.api.servers import no_resources

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


@pytest.fixture
def client() -> Iterator[TestClient]:
    limits = RateLimits(writes=Rate(0.001, 3), reads=Rate(0.001, 5), writes_in_flight=2, reads_in_flight=2)
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
    # A small declared body is read and dropped: the connection carries the client's next request.
    assert "close" not in r.headers.get("Connection", "")
    # One beyond the drain limit is left unread: that connection cannot carry another request.
    big = client.put(OFFER, content=b"x" * (64 * 1024 + 1), headers=bearer("t1") | {"Content-Type": "application/json"})
    assert big.status_code == 429 and big.headers["Connection"] == "close"
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


def test_settings_refuse_no_requests_in_flight() -> None:
    for name in ("writes_in_flight", "reads_in_flight"):
        with pytest.raises(ValidationError, match=name):
            Settings(**{name: 0})
    assert (Settings().writes_in_flight, Settings().reads_in_flight) == (2, 8)
    with pytest.raises(ValueError, match="at least 1"):
        RateLimits(writes_in_flight=0)


def test_in_flight_counts_per_token_and_kind_and_forgets_idle_tokens() -> None:
    flight = InFlight(RateLimits(writes_in_flight=2, reads_in_flight=1))
    assert [flight.enter("t1", write=True) for _ in range(3)] == [True, True, False]
    assert flight.enter("t1", write=False) and not flight.enter("t1", write=False)
    assert flight.enter("t2", write=True)  # another token has its own places
    flight.leave("t1", write=True)
    assert flight.enter("t1", write=True)
    for key, write in (("t1", True), ("t1", True), ("t1", False), ("t2", True)):
        flight.leave(key, write)
    assert flight._counts == {}  # nothing kept for tokens with no work in progress


class SlowApp:
    """An ASGI app that holds every request until released, and counts what reached it (a body read too)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.reached = 0
        self.bodies_read = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.reached += 1
        if scope["method"] != "GET":
            await receive()
            self.bodies_read += 1
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


async def call(app: Any, method: str, token: str, path: str = "/api/publishers/p/offers/o") -> dict[str, Any]:
    """Runs one request through ``app``: its status, headers and body."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "query_string": b"",
             "headers": [(b"authorization", f"Bearer {token}".encode())]}
    await app(scope, receive, send)
    start = sent[0]
    return {"status": start["status"], "headers": {k.decode(): v.decode() for k, v in start["headers"]},
            "body": b"".join(m.get("body", b"") for m in sent[1:])}


def test_one_request_over_the_in_flight_cap_is_429_at_once_without_reaching_the_app() -> None:
    async def scenario() -> None:
        inner = SlowApp()
        limiter = RateLimit(inner, limits=RateLimits(writes=Rate(1000.0, 1000), reads=Rate(1000.0, 1000),
                                                     writes_in_flight=3, reads_in_flight=2))
        held = [asyncio.create_task(call(limiter, "PUT", "a")) for _ in range(3)]
        reads = [asyncio.create_task(call(limiter, "GET", "a")) for _ in range(2)]
        await asyncio.sleep(0.01)
        assert inner.reached == 5
        # The fourth write of the same token: refused at once, body unread, the app never called.
        refused = await asyncio.wait_for(call(limiter, "PUT", "a"), 1)
        assert refused["status"] == 429
        assert refused["headers"]["retry-after"] == "1" and refused["headers"]["connection"] == "close"
        assert b"at most 3 changes at once" in refused["body"]
        assert (await asyncio.wait_for(call(limiter, "GET", "a"), 1))["status"] == 429
        assert inner.reached == 5 and inner.bodies_read == 3
        # Another token is not held back by it.
        other = asyncio.create_task(call(limiter, "PUT", "b"))
        await asyncio.sleep(0.01)
        assert inner.reached == 6
        inner.release.set()
        assert [r["status"] for r in await asyncio.gather(*held, *reads, other)] == [200] * 6
        # Once answered, the places are free again.
        assert limiter.in_flight._counts == {}
        assert (await call(limiter, "PUT", "a"))["status"] == 200

    asyncio.run(scenario())


def test_a_refusal_by_the_cap_takes_nothing_from_the_bucket() -> None:
    async def scenario() -> None:
        inner = SlowApp()
        limiter = RateLimit(inner, limits=RateLimits(writes=Rate(0.001, 2), writes_in_flight=1))
        held = asyncio.create_task(call(limiter, "PUT", "a"))  # takes one of the bucket's two
        await asyncio.sleep(0.01)
        refused = [await call(limiter, "PUT", "a") for _ in range(5)]
        assert [r["status"] for r in refused] == [429] * 5 and b"at once" in refused[0]["body"]
        inner.release.set()
        assert (await held)["status"] == 200
        assert (await call(limiter, "PUT", "a"))["status"] == 200  # the bucket's second is still there
        over = await call(limiter, "PUT", "a")
        assert over["status"] == 429 and b"per second" in over["body"]

    asyncio.run(scenario())


def test_a_failing_app_frees_its_place() -> None:
    async def boom(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("the route failed")

    async def scenario() -> None:
        limiter = RateLimit(boom, limits=RateLimits(writes_in_flight=1))
        for _ in range(3):  # each would be refused by the cap if the one before still held the place
            with pytest.raises(RuntimeError):
                await call(limiter, "PUT", "a")
        assert limiter.in_flight.count(limiter_key("a"), write=True) == 0

    asyncio.run(scenario())


def limiter_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def test_a_stream_stops_counting_once_its_answer_has_started() -> None:
    async def stream(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        started.set()
        await forever.wait()  # a status stream stays open long after its answer started
        await send({"type": "http.response.body", "body": b""})

    started, forever = asyncio.Event(), asyncio.Event()

    async def scenario() -> None:
        limiter = RateLimit(stream, limits=RateLimits(reads_in_flight=1))
        first = asyncio.create_task(call(limiter, "GET", "a"))
        await started.wait()
        assert limiter.in_flight.count(limiter_key("a"), write=False) == 0
        started.clear()
        second = asyncio.create_task(call(limiter, "GET", "a"))
        await asyncio.wait_for(started.wait(), 1)  # not refused: the first no longer holds the place
        forever.set()
        assert [r["status"] for r in await asyncio.gather(first, second)] == [200, 200]

    asyncio.run(scenario())

