"""The outbox relay with fakes: commit order kept, a row deleted only once the broker acked it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from offerflow_status_api.commands.relay import OutboxRelay


class FakeOutbox:
    def __init__(self, n: int) -> None:
        self.rows = [{"seq": i, "topic": "offerflow.publishing", "key": b"o", "value": f"e{i}".encode(),
                      "headers": json.dumps([["ce_id", f"id-{i}"]])} for i in range(1, n + 1)]

    async def fetch(self, query: str, limit: int) -> list[dict[str, Any]]:
        return self.rows[:limit]

    async def execute(self, query: str, seqs: list[int]) -> None:
        assert query.startswith("DELETE")
        self.rows = [r for r in self.rows if r["seq"] not in seqs]


class Broker:
    def __init__(self, fail_at: int | None = None) -> None:
        self.got: list[bytes] = []
        self.fail_at = fail_at

    async def send(self, topic: str, value: bytes | None = None, key: bytes | None = None,
                   headers: list[tuple[str, bytes]] | None = None) -> asyncio.Future[Any]:
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        assert value is not None and headers and headers[0][0] == "ce_id"
        if self.fail_at is not None and value == f"e{self.fail_at}".encode():
            ack.set_exception(ConnectionError("broker gone"))
        else:
            self.got.append(value)
            ack.set_result(None)
        return ack


async def test_drain_sends_in_commit_order_in_batches_and_empties_the_outbox() -> None:
    outbox, broker = FakeOutbox(7), Broker()
    assert await OutboxRelay(outbox, broker, batch=3).drain() == 7
    assert broker.got == [f"e{i}".encode() for i in range(1, 8)] and outbox.rows == []


async def test_a_batch_the_broker_did_not_ack_stays_and_is_sent_again() -> None:
    outbox, broker = FakeOutbox(5), Broker(fail_at=4)
    with pytest.raises(ConnectionError):
        await OutboxRelay(outbox, broker, batch=3).drain()
    assert [r["seq"] for r in outbox.rows] == [4, 5]  # the acked first batch is gone, the rest waits
    broker.fail_at = None
    assert await OutboxRelay(outbox, broker, batch=3).drain() == 2
    assert broker.got[-2:] == [b"e4", b"e5"] and outbox.rows == []
