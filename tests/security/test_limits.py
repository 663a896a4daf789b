"""The limits of the publisher API, probed on the real servers as a hostile publisher would: body size on the
bytes read (chunked too), input JSON cannot carry, per-token rate limits, per-publisher quotas.

Body and input probes go to the stack's own API (its guards are on); rate limits and quotas to a second API
process with low limits (``limited_api.py``), since the stack's are sized for the other suites.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from stack import Stack

from tests.e2e.client import Api, V, unique
from tests.security import limited_api
from tests.security.limited_api import LimitedApi, Publisher

pytestmark = pytest.mark.e2e
limited = limited_api.limited  # the fixture: a second API process with low limits

TITLE = "microsoft-azure-virtualmachines.title"


@pytest.fixture
def api(stack: Stack, e2e_token: str) -> Api:
    return Api(stack.api_url, e2e_token)


def api_error(r: httpx.Response, status: int) -> dict[str, Any]:
    """The API's own error body (JSON, ``{"error": {code, message, details}}``), never plain text."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers
    error: dict[str, Any] = r.json()["error"]
    assert error["code"] and error["message"]
    return error


def put_raw(api: Api, offer: str, doc: bytes) -> httpx.Response:
    return api.http.put(api.offer_url(offer), params=V, content=doc,
                        headers={"If-Match": "*", "Content-Type": "application/json"})


# --- bodies and input -------------------------------------------------------------------------------------------


def test_a_3_mb_chunked_put_is_413_and_saves_nothing(api: Api) -> None:
    offer = unique("chunked3m")

    def chunks() -> Iterator[bytes]:
        yield b'{"definition": {"displayText": "'
        for _ in range(48):
            yield b"x" * 65536  # 3 MiB, never announced in Content-Length
        yield b'"}}'

    r = api.http.put(api.offer_url(offer), params=V, content=chunks(),
                     headers={"If-Match": "*", "Content-Type": "application/json"})
    assert api_error(r, 413)["code"] == "PayloadTooLarge"
    assert api.http.get(api.offer_url(offer), params=V).status_code == 404


@pytest.mark.parametrize("value", ['"Demo\\u0000"', "Infinity", "-Infinity", "NaN", "1e999"])
def test_nul_and_non_finite_numbers_are_400_json(api: Api, value: str) -> None:
    offer = unique("badvalue")
    doc = '{"definition": {"offer": {"' + TITLE + '": ' + value + "}}}"
    error = api_error(put_raw(api, offer, doc.encode()), 400)
    assert [d["target"] for d in error["details"]] == [f"/definition/offer/{TITLE}"]
    assert api.http.get(api.offer_url(offer), params=V).status_code == 404


def test_json_nested_600_deep_is_400_json(api: Api) -> None:
    deep = b'{"definition": {"offer": ' + b"[" * 600 + b"]" * 600 + b"}}"
    error = api_error(put_raw(api, unique("deep"), deep), 400)
    assert {d["code"] for d in error["details"]} == {"too_deep"}


def test_nul_in_the_path_or_the_query_is_400_json(api: Api) -> None:
    assert api_error(api.http.get(api.offer_url("x%00y", "/status"), params=V), 400)["details"][0]["target"] == "path"
    r = api.http.get(api.offer_url("demo", "/submissions") + "?api-version=2017-10-31&status=run%00ning")
    assert api_error(r, 400)["details"][0]["target"] == "/status"
    r = api.http.get("/api/publishers/e2e%00/offers?api-version=2017-10-31")
    assert api_error(r, 400)["details"][0]["target"] == "path"


def raw_request(url: str, head: str) -> tuple[int | None, bytes]:
    """Sends ``head`` as a request's head on a socket: the status and body answered (None: no answer)."""
    parts = urlsplit(url)
    assert parts.hostname and parts.port
    data = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=15) as sock:
        # Refused before it was all sent, the rest of the head unread: the kernel then resets the connection.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head.encode("latin-1"))
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                data += chunk
    if not data.startswith(b"HTTP/1.1 "):
        return None, data
    head_part, _, body = data.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head_part.lower(), head_part
    return int(data.split(b" ", 2)[1]), body


def test_huge_headers_are_400_json_never_a_500(stack: Stack, e2e_token: str) -> None:
    path = "/api/publishers/e2e/offers?api-version=2017-10-31"
    many = (f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {e2e_token}\r\n"
            + "".join(f"X-Pad-{i}: {'a' * 1000}\r\n" for i in range(1024)) + "\r\n")
    one = f"GET {path} HTTP/1.1\r\nHost: x\r\nX-Big: {'a' * (1 << 20)}\r\n\r\n"
    for head in (many, one):  # 1 MiB of headers, then one header of 1 MiB
        status, body = raw_request(stack.api_url, head)
        assert status == 400, (status, body[:200])
        assert json.loads(body)["error"]["code"] == "BadRequest"
    # And the server still answers everyone else.
    assert httpx.get(f"{stack.api_url}/healthz", timeout=10).status_code == 200


# --- per-token rate limits --------------------------------------------------------------------------------------


def client(limited: LimitedApi, who: Publisher) -> Api:
    return Api(limited.url, who.token, publisher=who.publisher_id)


def test_a_burst_of_puts_from_one_token_gets_429_with_retry_after(limited: LimitedApi) -> None:
    who = limited.new_publisher("burst")
    burst = client(limited, who)
    offer = unique("burst")
    assert burst.put(offer, {"definition": {"displayText": "Burst"}}).status_code == 201

    def put(i: int) -> httpx.Response:
        with httpx.Client(base_url=limited.url, timeout=30,
                          headers={"Authorization": f"Bearer {who.token}"}) as c:
            return c.put(burst.offer_url(offer), params=V, json={"definition": {"displayText": f"Burst {i}"}},
                         headers={"If-Match": "*"})

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(put, range(40)))
    codes = [r.status_code for r in answers]
    assert set(codes) <= {200, 429}, codes
    assert 5 <= codes.count(200) <= 20, codes  # the burst of 10 (less the first PUT), and a few refilled
    limited_ones = [r for r in answers if r.status_code == 429]
    assert len(limited_ones) >= 20
    for r in limited_ones:
        error = api_error(r, 429)
        assert error["code"] == "TooManyRequests" and error["retryable"] is True
        assert 1 <= int(r.headers["Retry-After"]) <= 5
    # Another publisher's token is not slowed down by it.
    other = client(limited, limited.new_publisher("calm"))
    assert other.put(unique("calm"), {"definition": {"displayText": "Calm"}}).status_code == 201
    # After Retry-After the token may write again.
    time.sleep(int(limited_ones[-1].headers["Retry-After"]))
    assert burst.put(offer, {"definition": {"displayText": "Again"}}).status_code == 200


def test_one_write_beyond_the_in_flight_cap_is_429_at_once(limited: LimitedApi) -> None:
    """Four PUTs of one token whose bodies are still arriving hold the token's four places for writes (the
    status-api's default); a fifth is refused at once, while reads and other tokens go on."""
    who = limited.new_publisher("inflight")
    me = client(limited, who)
    offer = unique("inflight")
    assert me.put(offer, {"definition": {"displayText": "In flight"}}).status_code == 201
    go, sending = threading.Event(), threading.Semaphore(0)

    def slow_put(i: int) -> int:
        def body() -> Iterator[bytes]:
            yield b'{"definition": {"displayText": '
            sending.release()
            assert go.wait(30)
            yield f'"Slow {i}"}}}}'.encode()

        with httpx.Client(base_url=limited.url, timeout=60,
                          headers={"Authorization": f"Bearer {who.token}"}) as c:
            r = c.put(me.offer_url(offer), params=V, content=body(),
                      headers={"If-Match": "*", "Content-Type": "application/json"})
            return r.status_code

    with ThreadPoolExecutor(4) as pool:
        held = [pool.submit(slow_put, i) for i in range(4)]
        try:
            for _ in range(4):
                assert sending.acquire(timeout=15), "a slow PUT did not start"
            time.sleep(0.5)  # their heads have reached the server (the bodies wait)
            started = time.monotonic()
            r = me.http.put(me.offer_url(offer), params=V, json={"definition": {"displayText": "Fifth"}},
                            headers={"If-Match": "*"})
            error = api_error(r, 429)
            assert time.monotonic() - started < 5  # at once, not after the others
            assert error["code"] == "TooManyRequests" and "4 changes at once" in error["message"]
            assert r.headers["Retry-After"] == "1"
            # Reads of the same token and writes of another are not held back.
            assert me.http.get(me.offer_url(offer), params=V).status_code == 200
            other = client(limited, limited.new_publisher("inflight-other"))
            assert other.put(unique("other"), {"definition": {"displayText": "Other"}}).status_code == 201
        finally:
            go.set()
        assert [f.result(timeout=60) for f in held] == [200] * 4
    # The places are free again once the four are answered.
    assert me.put(offer, {"definition": {"displayText": "After"}}).status_code == 200


def test_admin_and_health_are_not_rate_limited(limited: LimitedApi) -> None:
    with limited.admin(limited.url) as admin:
        assert all(admin.get("/admin/publishers").status_code == 200 for _ in range(15))
    assert all(httpx.get(f"{limited.url}/healthz", timeout=10).status_code == 200 for _ in range(15))


# --- per-publisher quotas ---------------------------------------------------------------------------------------


def test_offers_beyond_the_publishers_quota_are_403_and_nothing_is_saved(limited: LimitedApi) -> None:
    who = client(limited, limited.new_publisher("quota"))
    offers = [unique("q") for _ in range(4)]
    assert [who.put(o, {"definition": {"displayText": o}}).status_code for o in offers[:3]] == [201] * 3
    error = api_error(who.put(offers[3], {"definition": {"displayText": "one too many"}}), 403)
    assert error["code"] == "OfferQuotaExceeded" and "(3)" in error["message"]
    assert who.http.get(who.offer_url(offers[3]), params=V).status_code == 404
    assert len(who.http.get(f"/api/publishers/{who.publisher}/offers", params=V).json()) == 3
    # Offers it holds can still change.
    assert who.put(offers[0], {"definition": {"displayText": "changed"}}).status_code == 200


def test_publish_runs_beyond_the_hourly_quota_are_429_with_retry_after(limited: LimitedApi) -> None:
    who = client(limited, limited.new_publisher("runs"))
    offers = [unique("r") for _ in range(3)]
    for o in offers:
        assert who.put(o, {"definition": {"displayText": o}}).status_code == 201
    assert [who.publish(o).status_code for o in offers[:2]] == [202, 202]
    r = who.publish(offers[2])
    error = api_error(r, 429)
    assert error["code"] == "RunQuotaExceeded" and error["retryable"] is True
    assert 3000 <= int(r.headers["Retry-After"]) <= 3600  # the first run leaves the hour in about an hour
    assert who.status(offers[2])["status"] == "neverPublished"  # nothing started
    history = who.http.get(who.offer_url(offers[2], "/history"), params=V).json()
    assert [h["httpStatus"] for h in history if h["kind"] == "command" and h["action"] == "publish"] == [429]
