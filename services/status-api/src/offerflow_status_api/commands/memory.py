"""In-memory command store for unit tests: the same locking, outbox and idempotency rules, no database."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from offerflow_contract.envelope import Envelope
from offerflow_status_api.commands.ports import Answer, KeyTaken, StaleETag
from offerflow_status_api.commands.state import OfferState


class MemoryUnitOfWork:
    def __init__(self, store: MemoryCommandStore, publisher_id: str, offer_id: str) -> None:
        self._store, self._key = store, (publisher_id, offer_id)
        self.state: OfferState | None = store.states.get(self._key)
        self.publisher_id = publisher_id
        self._pending: list[Envelope] = []
        self._answers: dict[str, Answer] = {}
        self._states: list[OfferState] = []
        self._support: list[dict[str, Any]] = []
        self._runs: list[datetime] = []
        self._publisher_locked = False

    async def _lock_publisher(self) -> None:
        if not self._publisher_locked:
            await self._store.publisher_locks[self.publisher_id].acquire()
            self._publisher_locked = True

    def release(self) -> None:
        if self._publisher_locked:
            self._store.publisher_locks[self.publisher_id].release()
            self._publisher_locked = False

    async def publisher_offers(self) -> int:
        await self._lock_publisher()
        held = sum(1 for p, _ in self._store.states if p == self.publisher_id)
        return held + (1 if self._states and self._key not in self._store.states else 0)

    async def publisher_runs_since(self, since: datetime) -> list[datetime]:
        await self._lock_publisher()
        return [t for t in self._store.run_starts[self.publisher_id] + self._runs if t >= since]

    async def record_run(self, run_id: str, at: datetime) -> None:
        self._runs.append(at)

    async def recall(self, key: str) -> Answer | None:
        return self._store.answers.get((self.publisher_id, key))

    async def remember(self, key: str, answer: Answer) -> None:
        if (self.publisher_id, key) in self._store.answers:
            raise KeyTaken(key)
        self._answers[key] = answer

    async def create(self, state: OfferState) -> OfferState:
        if self._key in self._store.states:
            raise StaleETag("")
        self._states.append(state)
        self.state = state
        return state

    async def save(self, state: OfferState) -> None:
        self._states.append(state)
        self.state = state

    def emit(self, envelope: Envelope) -> None:
        self._pending.append(envelope)

    async def add_support_request(self, row: dict[str, Any]) -> None:
        self._support.append(row)

    def commit(self) -> None:
        if self._states:
            self._store.states[self._key] = self._states[-1]
        self._store.outbox += self._pending
        self._store.support += self._support
        self._store.run_starts[self.publisher_id] += self._runs
        for key, answer in self._answers.items():
            self._store.answers[(self.publisher_id, key)] = answer


@dataclasses.dataclass
class MemoryCommandStore:
    states: dict[tuple[str, str], OfferState] = dataclasses.field(default_factory=dict)
    outbox: list[Envelope] = dataclasses.field(default_factory=list)
    answers: dict[tuple[str, str], Answer] = dataclasses.field(default_factory=dict)
    support: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    locks: defaultdict[tuple[str, str], asyncio.Lock] = dataclasses.field(
        default_factory=lambda: defaultdict(asyncio.Lock))
    publisher_locks: defaultdict[str, asyncio.Lock] = dataclasses.field(
        default_factory=lambda: defaultdict(asyncio.Lock))
    run_starts: defaultdict[str, list[datetime]] = dataclasses.field(default_factory=lambda: defaultdict(list))

    @asynccontextmanager
    async def offer(self, publisher_id: str, offer_id: str) -> AsyncIterator[MemoryUnitOfWork]:
        async with self.locks[(publisher_id, offer_id)]:
            uow = MemoryUnitOfWork(self, publisher_id, offer_id)
            try:
                yield uow  # an exception leaves everything as it was: nothing is committed
                uow.commit()
            finally:
                uow.release()

    async def recall(self, publisher_id: str, key: str) -> Answer | None:
        return self.answers.get((publisher_id, key))

    async def get(self, publisher_id: str, offer_id: str) -> OfferState | None:
        return self.states.get((publisher_id, offer_id))

    async def list(self, publisher_id: str) -> list[OfferState]:
        return [s for (p, _), s in sorted(self.states.items()) if p == publisher_id]

