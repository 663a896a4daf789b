"""A connection refused for its token's rate is left unread until its Retry-After (api/server.py), on a real
uvicorn with the protocol and the rate limit the API process runs; other connections are served meanwhile."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from offerflow_status_api.api.app import create_app
from offerflow_status_api.api.ratelimit import Rate, RateLimits
from tests.api.servers import no_resources, serving


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    # One read per token at once, one more each second: a token's second read at once is refused, Retry-After 1.
    limits = RateLimits(reads=Rate(1.0, 1))
    with serving(create_app(no_resources, rate_limits=limits)) as free:
        yield free


class Conn:
    """One keep-alive HTTP/1.1 connection reading whole answers (they all carry Content-Length)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def get(self, token: str) -> tuple[int, dict[str, str], float]:
        self.sock.sendall(f"GET /api/nothing-here HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                          "\r\n".encode())
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            assert chunk, "the server closed the connection"
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(self.buf) < length:
            self.buf += self.sock.recv(65536)
        self.buf = self.buf[length:]
        return int(lines[0].split()[1]), headers, time.monotonic()

    def close(self) -> None:
        self.sock.close()


def test_a_refused_connection_is_held_until_retry_after_while_others_are_served(port: int) -> None:
    held, other = Conn(port), Conn(port)
    try:
        first, _, _ = held.get("token-held")
        assert first == 404  # admitted (no such route; nothing behind it is needed)
        # The next read at once is refused; on a loaded machine a second may pass first and refill the bucket,
        # so a few tries (a refused one is held, so it ends the loop).
        for _ in range(5):
            status, headers, refused_at = held.get("token-held")
            if status == 429:
                break
        assert status == 429 and headers["retry-after"] == "1"
        assert headers.get("connection", "").lower() != "close"  # kept open, only held

        # The held connection's next request is sent now; another token's request on another connection after it.
        held.sock.sendall(b"GET /api/nothing-here HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer token-held"
                          b"\r\n\r\n")
        other_status, _, other_at = other.get("token-other")
        assert other_status == 404
        held.sock.settimeout(10)
        while b"\r\n\r\n" not in held.buf:
            held.buf += held.sock.recv(65536)
        answered_at = time.monotonic()
        # Served in the other order: the later request on the free connection first, the held one after its hold.
        assert other_at < answered_at
        assert answered_at - refused_at >= 0.9
    finally:
        held.close()
        other.close()



def test_a_tokens_held_connections_are_released_in_turn_at_its_rate(port: int) -> None:
    """Three connections of one token refused together come back one per interval of its rate (reads at 1 a
    second here), so each is admitted in turn; released together when their Retry-After ended, two of the three
    were refused again and the event loop met them all in the same instant."""
    token = "token-in-turn"
    conns = [Conn(port) for _ in range(4)]
    try:
        assert conns[0].get(token)[0] == 404  # takes the bucket's one request
        refused = [c.get(token) for c in conns[1:]]
        assert [status for status, _, _ in refused] == [429, 429, 429]
        for c in conns[1:]:  # each held connection's next request, sent at once
            c.sock.sendall(f"GET /api/nothing-here HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                           "\r\n".encode())
        answers = []
        for c in conns[1:]:
            while b"\r\n\r\n" not in c.buf:
                c.buf += c.sock.recv(65536)
            answers.append((time.monotonic(), int(c.buf.split(b" ", 2)[1])))
        times = sorted(t for t, _ in answers)
        # Each comes back when the bucket has refilled (the last may miss it by a hair of scheduling: it is then
        # refused and held again); released together, only the first would have been admitted.
        assert [status for _, status in answers][:2] == [404, 404]
        # 1.2 s apart (1.2 / rate); released together they were milliseconds apart. Loose for a loaded machine.
        assert times[1] - times[0] >= 0.5 and times[2] - times[1] >= 0.5
        assert times[0] - refused[0][2] >= 0.9  # and none before its own Retry-After
    finally:
        for c in conns:
            c.close()
