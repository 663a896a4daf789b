"""The live streams on the real servers: the publisher's offer stream (every offer first, then each change,
never another publisher's offer), bounded per token together with the status streams and ended by a revoke;
and the status stream, which sends the document ``GET …/status`` answers."""

from __future__ import annotations

import json
import queue
import time
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from stack import Stack

from tests.e2e.client import Api, V, unique
from tests.security import limited_api
from tests.security.limited_api import LimitedApi, Publisher
from tests.security.test_sessions import Reader

pytestmark = pytest.mark.e2e
limited = limited_api.limited  # the fixture: a second API process with low limits (5 streams per token)


def offers_stream(who: Publisher) -> str:
    return f"/api/publishers/{who.publisher_id}/stream"


def put(limited: LimitedApi, who: Publisher, offer: str, name: str) -> None:
    with httpx.Client(base_url=limited.url, timeout=30, headers={"Authorization": f"Bearer {who.token}"}) as c:
        r = c.put(f"/api/publishers/{who.publisher_id}/offers/{offer}", params=V,
                  json={"definition": {"displayText": name}}, headers={"If-Match": "*"})
        assert r.status_code in (200, 201), r.text


def next_event(reader: Reader, timeout: float = 20) -> tuple[str, Any]:
    """The stream's next event (name, parsed data); keep-alives and the retry field are skipped."""
    deadline = time.monotonic() + timeout
    name = None
    while time.monotonic() < deadline:
        try:
            line = reader.lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: ") and name is not None:
            return name, json.loads(line.removeprefix("data: "))
    raise AssertionError(f"no event on the stream within {timeout}s")


def until_offer(reader: Reader, offer: str, pred: Any = lambda o: True, timeout: float = 30) -> list[str]:
    """Reads ``offer`` events until one of ``offer`` matches ``pred``; returns the ids of every offer sent."""
    ids: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        name, data = next_event(reader, timeout=max(0.1, deadline - time.monotonic()))
        assert name == "offer", (name, data)
        ids.append(data["id"])
        if data["id"] == offer and pred(data):
            return ids
    raise AssertionError(f"no change of {offer} on the stream; saw {ids}")


def test_the_offer_stream_sends_every_offer_then_each_change_and_never_another_publishers(
        limited: LimitedApi) -> None:
    mine, theirs = limited.new_publisher("live-a"), limited.new_publisher("live-b")
    first, second, foreign = unique("mine"), unique("mine2"), unique("theirs")
    put(limited, mine, first, "First")
    reader = Reader(limited.url, offers_stream(mine), mine.token).start()
    assert reader.status == 200
    name, listed = next_event(reader)
    assert name == "offers" and [o["id"] for o in listed] == [first]
    assert listed[0]["publisherId"] == mine.publisher_id

    put(limited, theirs, foreign, "Not yours")
    put(limited, mine, first, "First, renamed")
    seen = until_offer(reader, first, lambda o: o["definition"]["displayText"] == "First, renamed"
                       and o["changedTime"] is not None)
    put(limited, mine, second, "Second")
    seen += until_offer(reader, second)
    put(limited, theirs, foreign, "Still not yours")
    put(limited, mine, first, "First, again")
    seen += until_offer(reader, first, lambda o: o["definition"]["displayText"] == "First, again")
    assert foreign not in seen and set(seen) <= {first, second}


def test_offer_and_status_streams_share_the_tokens_bound_and_a_revoke_ends_the_offer_stream(
        limited: LimitedApi) -> None:
    who = limited.new_publisher("live-bound")
    offer = unique("bound")
    put(limited, who, offer, "Bound")
    headers = {"Authorization": f"Bearer {who.token}"}
    status_path = f"/api/publishers/{who.publisher_id}/offers/{offer}/status/stream"
    with ExitStack() as streams:
        clients = [streams.enter_context(httpx.Client(base_url=limited.url, timeout=30)) for _ in range(5)]
        opened = [streams.enter_context(c.stream("GET", path, params=V, headers=headers))
                  for c, path in zip(clients, [status_path] * 3 + [offers_stream(who)], strict=False)]
        assert [r.status_code for r in opened] == [200] * 4
        reader = Reader(limited.url, offers_stream(who), who.token).start()  # the fifth
        assert reader.status == 200
        assert next_event(reader)[0] == "offers"
        sixth = clients[4].get(offers_stream(who), params=V, headers=headers)
        assert sixth.status_code == 429 and sixth.json()["error"]["code"] == "TooManyStreams", sixth.text

        revoked_at = time.monotonic()
        limited.revoke(who.token_id)
        while reader.ended_at is None and time.monotonic() < revoked_at + 3:
            time.sleep(0.05)
        assert reader.ended_at is not None and reader.ended_at - revoked_at <= 1.0
        rest = [line for line in reader.rest() if line]
        assert rest[-2:] == ["event: end", 'data: {"reason": "revoked", "reconnect": false}'], rest
    with httpx.Client(base_url=limited.url, timeout=10) as c:
        assert c.get(offers_stream(who), params=V, headers=headers).status_code == 401


def test_another_publishers_offer_stream_is_not_found(limited: LimitedApi) -> None:
    mine, theirs = limited.new_publisher("live-own"), limited.new_publisher("live-other")
    with httpx.Client(base_url=limited.url, timeout=10) as c:
        r = c.get(offers_stream(theirs), params=V, headers={"Authorization": f"Bearer {mine.token}"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "NotFound"


def test_the_status_stream_sends_the_document_get_status_answers(stack: Stack, e2e_token: str) -> None:
    api = Api(stack.api_url, e2e_token)
    offer = unique("same-doc")
    assert api.put(offer, {"definition": {"displayText": offer}}).status_code == 201
    reader = Reader(stack.api_url, api.offer_url(offer, "/status/stream"), e2e_token).start()
    assert reader.status == 200
    name, sent = next_event(reader)
    served = api.status(offer)
    assert name == "status" and sent == served
    assert all({"etaSeconds", "etaSamples", "overdue"} <= set(step) for step in sent["steps"])
