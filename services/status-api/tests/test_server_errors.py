"""The HTTP server's own refusals (a request head it cannot read) in the API's JSON error shape, on a real
uvicorn with the protocol the API process runs."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator

import pytest

from offerflow_status_api.api.app import create_app
from tests.api.servers import no_resources, serving


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with serving(create_app(no_resources)) as free:
        yield free


def answer(port: int, head: str) -> tuple[bytes, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # refused before it was all sent
            sock.sendall(head.encode("latin-1"))
        data = b""
        # The server answers and closes with part of the head unread: the kernel then resets the connection,
        # after the answer has arrived.
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                data += chunk
    status_and_headers, _, body = data.partition(b"\r\n\r\n")
    return status_and_headers, body


@pytest.mark.parametrize("head", [
    "GET /healthz HTTP/1.1\r\nHost: x\r\n" + "".join(f"X-Pad-{i}: {'a' * 1000}\r\n" for i in range(200)) + "\r\n",
    "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + "a" * 200_000 + "\r\n\r\n",
    "NOT A REQUEST LINE\r\n\r\n",
], ids=["many-headers", "one-huge-header", "malformed"])
def test_an_unreadable_request_head_is_400_in_the_api_error_shape(port: int, head: str) -> None:
    status_and_headers, body = answer(port, head)
    assert status_and_headers.startswith(b"HTTP/1.1 400 ")
    assert b"content-type: application/json" in status_and_headers.lower()
    assert json.loads(body)["error"]["code"] == "BadRequest"


def test_a_readable_request_still_reaches_the_app(port: int) -> None:
    status_and_headers, body = answer(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_and_headers.startswith(b"HTTP/1.1 200 ") and json.loads(body) == {"status": "ok"}
