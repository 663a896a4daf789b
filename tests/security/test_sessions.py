"""Status streams as sessions, on the real servers: a token holds a bounded number of them, and revoking the
token ends its open streams at once (in the API process that revoked it) or within the re-check bound (in any
other API process)."""

from __future__ import annotations

import queue
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field

import httpx
import pytest

from tests.e2e.client import V, unique
from tests.security import limited_api
from tests.security.limited_api import LimitedApi, Publisher

pytestmark = pytest.mark.e2e
limited = limited_api.limited  # the fixture: a second API process with low limits


def stream_url(who: Publisher, offer: str) -> str:
    return f"/api/publishers/{who.publisher_id}/offers/{offer}/status/stream"


def with_offer(limited: LimitedApi, prefix: str) -> tuple[Publisher, str]:
    who = limited.new_publisher(prefix)
    offer = unique(prefix)
    with httpx.Client(base_url=limited.stack.api_url, timeout=30,
                      headers={"Authorization": f"Bearer {who.token}"}) as c:
        r = c.put(f"/api/publishers/{who.publisher_id}/offers/{offer}", params=V,
                  json={"definition": {"displayText": offer}}, headers={"If-Match": "*"})
        assert r.status_code == 201, r.text
    return who, offer


@dataclass
class Reader:
    """Reads one status stream on a thread: every line, and when the stream ended."""

    url: str
    path: str
    token: str
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    opened: threading.Event = field(default_factory=threading.Event)
    ended_at: float | None = None
    status: int | None = None

    def start(self) -> Reader:
        threading.Thread(target=self._read, daemon=True).start()
        assert self.opened.wait(15), "the stream did not open"
        return self

    def _read(self) -> None:
        try:
            with httpx.Client(base_url=self.url, timeout=httpx.Timeout(30, read=60)) as c, c.stream(
                    "GET", self.path, params=V, headers={"Authorization": f"Bearer {self.token}"}) as r:
                self.status = r.status_code
                self.opened.set()
                for line in r.iter_lines():
                    self.lines.put(line)
        except httpx.HTTPError as exc:
            self.lines.put(f"error: {exc!r}")
        finally:
            self.ended_at = time.monotonic()
            self.opened.set()

    def wait_for(self, text: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if text in self.lines.get(timeout=max(0.01, deadline - time.monotonic())):
                    return
            except queue.Empty:
                break
        raise AssertionError(f"no {text!r} on the stream within {timeout}s")

    def rest(self) -> list[str]:
        out = []
        while not self.lines.empty():
            out.append(self.lines.get())
        return out


def revoke_ends_the_stream(limited: LimitedApi, stream_on: str, revoke_via: str, bound: float) -> None:
    who, offer = with_offer(limited, "revoke")
    reader = Reader(stream_on, stream_url(who, offer), who.token).start()
    assert reader.status == 200
    reader.wait_for("event: status")
    revoked_at = time.monotonic()
    limited.revoke(who.token_id, via=revoke_via)
    deadline = revoked_at + bound
    while reader.ended_at is None and time.monotonic() < deadline + 1:
        time.sleep(0.05)
    assert reader.ended_at is not None, "the stream is still open after the revoke"
    assert reader.ended_at - revoked_at <= bound, reader.ended_at - revoked_at
    rest = [line for line in reader.rest() if line]
    # It ends saying why, and nothing follows: no status event after the revoke.
    assert rest[-2:] == ["event: end", 'data: {"reason": "revoked", "reconnect": false}'], rest
    assert "event: status" not in rest
    # The token is dead for a new stream too.
    with httpx.Client(base_url=stream_on, timeout=10) as c:
        r = c.get(stream_url(who, offer), params=V, headers={"Authorization": f"Bearer {who.token}"})
        assert r.status_code == 401


def test_revoking_a_token_ends_its_stream_at_once(limited: LimitedApi) -> None:
    revoke_ends_the_stream(limited, limited.url, limited.url, bound=1.0)


def test_revoking_through_another_api_process_ends_the_stream_within_two_seconds(limited: LimitedApi) -> None:
    revoke_ends_the_stream(limited, limited.url, limited.stack.api_url, bound=2.0)


def test_the_sixth_stream_of_a_token_is_429_and_a_closed_one_frees_its_place(limited: LimitedApi) -> None:
    who, offer = with_offer(limited, "streams")
    path = stream_url(who, offer)
    headers = {"Authorization": f"Bearer {who.token}"}
    with ExitStack() as streams:
        clients = [streams.enter_context(httpx.Client(base_url=limited.url, timeout=30)) for _ in range(6)]
        opened = [streams.enter_context(c.stream("GET", path, params=V, headers=headers)) for c in clients[:5]]
        assert [r.status_code for r in opened] == [200] * 5
        sixth = clients[5].get(path, params=V, headers=headers)
        assert sixth.status_code == 429, sixth.text
        assert sixth.headers["content-type"].startswith("application/json")
        assert sixth.json()["error"]["code"] == "TooManyStreams"
        assert int(sixth.headers["Retry-After"]) >= 1
        # Another token of another publisher is not affected.
        other, other_offer = with_offer(limited, "streams-other")
        with httpx.Client(base_url=limited.url, timeout=30) as c, c.stream(
                "GET", stream_url(other, other_offer), params=V,
                headers={"Authorization": f"Bearer {other.token}"}) as r:
            assert r.status_code == 200
        # One stream closes: its place is free again once the server has seen it go (a poll or so).
        opened[0].close()
        clients[0].close()
        deadline = time.monotonic() + 5
        while True:
            with clients[5].stream("GET", path, params=V, headers=headers) as r:
                if r.status_code == 200:
                    break
                assert r.status_code == 429
            assert time.monotonic() < deadline, "the closed stream's place was never freed"
            time.sleep(0.2)
