"""The request guard: NUL, non-finite numbers, deep JSON and oversized (also chunked) bodies never reach a route.

Through ``create_app`` (no database: the guard answers before any route runs), straight over ASGI where the
exact messages matter, and over a real socket to uvicorn for ``Transfer-Encoding: chunked``.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from offerflow_status_api.api.app import create_app
from offerflow_status_api.api.guard import MAX_DEPTH, RequestGuard, body_problems, pointer
from tests.api.servers import no_resources, serving

V = "api-version=2017-10-31"
OFFER = f"/api/publishers/contoso/offers/demo?{V}"
PREFIX = "/api/publishers/contoso/offers/demo"
TITLE = "microsoft-azure-virtualmachines.title"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(no_resources, max_body_bytes=4096), raise_server_exceptions=False) as c:
        yield c


def raw(doc: str) -> dict[str, Any]:
    """Keyword arguments for a request whose body is exactly ``doc`` (JSON that json.dumps would not write)."""
    return {"content": doc.encode(), "headers": {"Content-Type": "application/json",
                                                 "Authorization": "Bearer x", "If-Match": "*"}}


def refused(r: Any, code: str) -> list[str]:
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "BadRequest"
    assert {d["code"] for d in error["details"]} == {code}, error
    return [d["target"] for d in error["details"]]


# Every route that takes a body, with a NUL planted in one of its fields.
BODY_ROUTES = [
    ("PUT", OFFER, {"definition": {"offer": {TITLE: "Demo\u0000"}}}, f"/definition/offer/{TITLE}"),
    ("POST", f"{PREFIX}/publish?{V}", {"metadata": {"notification-emails": "a@example.com\u0000"}},
     "/metadata/notification-emails"),
    ("POST", f"{PREFIX}/support?{V}", {"title": "t", "description": "x\u0000y"}, "/description"),
    ("PUT", f"{PREFIX}/plans/p1/versions/1.0.0?{V}", {"osVhdUrl": ["ok", "bad\u0000"]}, "/osVhdUrl/1"),
    ("POST", "/admin/publishers", {"publisherId": "p\u0000"}, "/publisherId"),
    ("POST", "/admin/publishers/contoso/tokens", {"name": "\u0000"}, "/name"),
]


@pytest.mark.parametrize(("method", "url", "body", "target"), BODY_ROUTES, ids=lambda v: str(v)[:40])
def test_nul_in_any_body_field_is_refused_naming_the_field(client: TestClient, method: str, url: str,
                                                           body: dict[str, Any], target: str) -> None:
    r = client.request(method, url, **raw(json.dumps(body)))
    assert refused(r, "nul_character") == [target]


@pytest.mark.parametrize("number", ["Infinity", "-Infinity", "NaN", "1e999", "-1e999"])
def test_non_finite_numbers_are_refused_naming_the_field(client: TestClient, number: str) -> None:
    doc = '{"definition": {"offer": {"' + TITLE + '": 1, "price": [0, ' + number + "]}}}"
    r = client.put(OFFER, **raw(doc))
    assert refused(r, "non_finite_number") == ["/definition/offer/price/1"]


def test_every_bad_field_is_named_in_document_order(client: TestClient) -> None:
    doc = '{"a": "\\u0000", "b": {"c": NaN}, "d/e~f": "\\u0000", "g\\u0000": 1}'
    r = client.post(f"{PREFIX}/support?{V}", **raw(doc))
    assert r.status_code == 400
    assert [(d["code"], d["target"]) for d in r.json()["error"]["details"]] == [
        ("nul_character", "/a"), ("non_finite_number", "/b/c"), ("nul_character", "/d~1e~0f"),
        ("nul_character", "/g\\u0000")]


def test_json_nested_too_deep_is_a_400_not_a_500(client: TestClient) -> None:
    too_deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    assert refused(client.put(OFFER, **raw(too_deep)), "too_deep") == [pointer((0,) * MAX_DEPTH)]
    # Deeper than Python's own recursion limit: the parser gives up, the answer is still a 400.
    abyss = "[" * 100_000 + "]" * 100_000
    big = TestClient(create_app(no_resources, max_body_bytes=1_000_000), raise_server_exceptions=False)
    with big:
        assert refused(big.put(OFFER, **raw(abyss)), "too_deep") == [""]


def test_nul_in_path_or_query_is_refused(client: TestClient) -> None:
    r = client.get(f"/api/publishers/contoso/offers/de%00mo/status?{V}")
    assert refused(r, "nul_character") == ["path"]
    assert "de%00mo" in r.json()["error"]["details"][0]["message"]
    r = client.get(f"{PREFIX}/status?api-version=2017-10-31%00")
    assert refused(r, "nul_character") == ["/api-version"]
    assert refused(client.get("/portal/index.html%00"), "nul_character") == ["path"]


def test_malformed_json_still_gets_the_routes_own_answer(client: TestClient) -> None:
    r = client.put(OFFER, **raw('{"definition": '))
    assert r.status_code in (400, 401), r.text  # never the guard's: it only judges JSON it can read
    assert all(d["code"] not in ("nul_character", "non_finite_number", "too_deep")
               for d in r.json()["error"]["details"])


def test_declared_oversized_body_is_413(client: TestClient) -> None:
    r = client.put(OFFER, **raw(json.dumps({"x": "y" * 5000})))
    assert r.status_code == 413 and r.json()["error"]["code"] == "PayloadTooLarge"


def test_walk_reports_the_first_container_past_the_limit_only() -> None:
    doc: Any = "leaf"
    for _ in range(MAX_DEPTH):
        doc = {"k": doc}
    assert body_problems(doc) == []
    assert [p["target"] for p in body_problems({"k": doc})] == ["/k" * MAX_DEPTH]


# --- straight over ASGI: what reaches the app, and when reading stops ------------------------------------------


class Echo:
    """An app that records the body it was given and what the server says afterwards."""

    def __init__(self) -> None:
        self.body: bytes | None = None
        self.after: dict[str, Any] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        message = await receive()
        self.body = message["body"]
        assert message.get("more_body") is False
        self.after = await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def call(guard: RequestGuard, chunks: list[bytes], headers: list[tuple[bytes, bytes]] | None = None,
         path: str = "/x") -> tuple[list[dict[str, Any]], int]:
    return asyncio.run(acall(guard, chunks, headers, path))


async def acall(guard: RequestGuard, chunks: list[bytes], headers: list[tuple[bytes, bytes]] | None = None,
                path: str = "/x") -> tuple[list[dict[str, Any]], int]:
    """Runs one request; returns what was sent back and how many body chunks the guard read."""
    sent: list[dict[str, Any]] = []
    read = 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read < len(chunks):
            read += 1
            return {"type": "http.request", "body": chunks[read - 1], "more_body": read < len(chunks)}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "query_string": b"",
             "headers": headers if headers is not None else [(b"content-type", b"application/json")]}
    await guard(scope, receive, send)  # type: ignore[arg-type]
    return sent, read


def test_chunked_body_over_the_limit_is_413_without_reading_the_rest() -> None:
    echo = Echo()
    guard = RequestGuard(echo, max_body_bytes=1024)  # type: ignore[arg-type]
    sent, read = call(guard, [b"[" + b"1," * 300] * 10)  # no Content-Length, as with Transfer-Encoding: chunked
    assert sent[0]["status"] == 413 and (b"connection", b"close") in sent[0]["headers"]
    assert read == 2 and echo.body is None


def test_valid_chunked_body_reaches_the_app_whole_and_unchanged() -> None:
    echo = Echo()
    guard = RequestGuard(echo, max_body_bytes=1024)  # type: ignore[arg-type]
    chunks = [b'{"a": [1.5, ', b'"\\u00e9", {"b": null}]', b"}"]
    sent, _ = call(guard, chunks)
    assert sent[0]["status"] == 200
    assert echo.body == b"".join(chunks) and echo.after == {"type": "http.disconnect"}


def test_bodies_that_are_not_json_are_left_to_the_route() -> None:
    echo = Echo()
    guard = RequestGuard(echo)  # type: ignore[arg-type]
    sent, _ = call(guard, [b"a\x00b NaN"], headers=[(b"content-type", b"text/plain")])
    assert sent[0]["status"] == 200 and echo.body == b"a\x00b NaN"


def test_json_without_content_type_is_checked_as_fastapi_would_parse_it() -> None:
    sent, _ = call(RequestGuard(Echo()), [b'{"a": NaN}'], headers=[])  # type: ignore[arg-type]
    assert sent[0]["status"] == 400
    sent, _ = call(RequestGuard(Echo()), [b'{"a": 1}'],  # type: ignore[arg-type]
                   headers=[(b"content-type", b"application/merge-patch+json; charset=utf-8")])
    assert sent[0]["status"] == 200


def test_a_stream_still_hears_the_client_leave() -> None:
    """Server-sent events end when the client disconnects: that message must still reach the app."""
    from starlette.responses import StreamingResponse

    async def forever() -> Any:
        while True:
            yield b"data: {}\n\n"
            await asyncio.sleep(0.01)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await StreamingResponse(forever(), media_type="text/event-stream")(scope, receive, send)

    guard = RequestGuard(app)

    sent, _ = asyncio.run(asyncio.wait_for(acall(guard, [b""]), 10))
    assert sent[0]["status"] == 200


# --- a real server, a real chunked request ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    with serving(create_app(no_resources, max_body_bytes=2048)) as port:
        yield port


def send_chunked(port: int, path: str, chunks: list[bytes]) -> int:
    """POSTs ``chunks`` with Transfer-Encoding: chunked; returns the status code (the server may answer early)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                     "Authorization: Bearer x\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        try:
            for chunk in chunks:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading it all, as it should for a 413
        status_line = sock.makefile("rb").readline()
    return int(status_line.split()[1])


def test_chunked_request_over_the_limit_gets_413_from_the_real_server(server: int) -> None:
    assert send_chunked(server, f"{PREFIX}/support?{V}", [b'{"title": "' + b"x" * 1000] * 5 + [b'"}']) == 413


def test_chunked_request_with_nul_gets_400_from_the_real_server(server: int) -> None:
    chunks = [b'{"title": "t", ', b'"description": "a\\u0000b"}']
    assert send_chunked(server, f"{PREFIX}/support?{V}", chunks) == 400
