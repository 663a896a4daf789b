"""The outbox relay: puts committed command events on Kafka in commit order, then deletes them.

At-least-once: a crash between the broker's ack and the delete sends those events again, with the same event
ids, and every consumer dedupes by event id. Only one relay sends at a time (a session advisory lock), so
events of one offer keep their order; a second relay waits as a standby.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Protocol

from offerflow_shared import metrics
from offerflow_status_api.commands.postgres import NOTIFY_CHANNEL

log = logging.getLogger("offerflow.outbox")
RELAY_LOCK = 0x0FFE_F11


class Producer(Protocol):
    async def send(self, topic: str, value: bytes | None = None, key: bytes | None = None,
                   headers: list[tuple[str, bytes]] | None = None) -> asyncio.Future[Any]: ...


class OutboxRelay:
    def __init__(self, pool: Any, producer: Producer, *, batch: int = 500, idle_poll: float = 1.0) -> None:
        self.pool, self.producer, self.batch, self.idle_poll = pool, producer, batch, idle_poll
        self.sent = 0

    async def drain(self) -> int:
        """Sends what is in the outbox, oldest first, until it is empty; returns how many were sent."""
        total = 0
        while True:
            rows = await self.pool.fetch(
                "SELECT seq, topic, key, value, headers FROM outbox ORDER BY seq LIMIT $1", self.batch)
            if not rows:
                return total
            # Enqueued in order and awaited together: the idempotent producer keeps their order per partition.
            acks = [await self.producer.send(r["topic"], value=r["value"], key=r["key"],
                                             headers=[(k, v.encode()) for k, v in json.loads(r["headers"])])
                    for r in rows]
            await asyncio.gather(*acks)
            await self.pool.execute("DELETE FROM outbox WHERE seq = ANY($1::bigint[])", [r["seq"] for r in rows])
            total += len(rows)
            self.sent += len(rows)
            metrics.outbox_relayed(len(rows))

    async def run(self, stop: asyncio.Event) -> None:
        """Relays until ``stop``; a lost database or broker is waited out, never fatal."""
        while not stop.is_set():
            try:
                await self._run_active(stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: reconnect and carry on from the outbox
                log.warning("outbox relay interrupted: %r; resuming", exc)
                await _wait(stop, 1.0)

    async def _run_active(self, stop: asyncio.Event) -> None:
        async with self.pool.acquire() as conn:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK):
                if await _wait(stop, self.idle_poll):
                    return
            log.info("outbox relay active")
            wake = asyncio.Event()

            def on_notify(*_: object) -> None:
                wake.set()

            await conn.add_listener(NOTIFY_CHANNEL, on_notify)
            try:
                while not stop.is_set():
                    wake.clear()
                    await self.drain()
                    # A missed notification costs at most one idle poll.
                    await _wait_any(stop, wake, self.idle_poll)
            finally:
                # On a lost connection there is nothing to undo: the server dropped the listener and the lock.
                with contextlib.suppress(Exception):
                    await conn.remove_listener(NOTIFY_CHANNEL, on_notify)
                    await conn.execute("SELECT pg_advisory_unlock($1)", RELAY_LOCK)


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
        return True
    except TimeoutError:
        return False


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
