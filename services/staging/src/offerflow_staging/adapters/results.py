"""What each staging input produced, kept so that a redelivered input re-emits it instead of booting again.

Keyed by the input's event id: the events emitted for it derive their ids from it, so re-emitting the stored
events (with their discriminators) gives the very same events. Table ``staging_results`` (migrations/).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal, Protocol

import asyncpg

from offerflow_contract.envelope import Event
from offerflow_contract.events import StagingFailed, StagingPassed, StagingProgressed, StagingStarted

Outcome = Literal["done", "canceled"]
_EVENTS: dict[str, type[Event]] = {c.event_type: c for c in (StagingStarted, StagingProgressed, StagingPassed,
                                                            StagingFailed)}


@dataclass(frozen=True)
class Emitted:
    event: Event
    discriminator: str = ""


@dataclass(frozen=True)
class StoredResult:
    outcome: Outcome
    events: list[Emitted]


@dataclass(frozen=True)
class RunKey:
    cause_event_id: str
    publisher_id: str
    offer_id: str
    run_id: str


class ResultStore(Protocol):
    async def find(self, cause_event_id: str) -> StoredResult | None: ...

    async def save(self, key: RunKey, result: StoredResult) -> None:
        """Keep the result of one input (the first one saved stays: a redelivery produced the same)."""
        ...


def dump(events: list[Emitted]) -> str:
    return json.dumps([{"event_type": e.event.event_type, "discriminator": e.discriminator,
                        "payload": e.event.model_dump(mode="json")} for e in events])


def load(raw: str) -> list[Emitted]:
    return [Emitted(_EVENTS[item["event_type"]].model_validate(item["payload"]), item["discriminator"])
            for item in json.loads(raw)]


@dataclass
class MemoryResultStore:
    rows: dict[str, StoredResult] = field(default_factory=dict)

    async def find(self, cause_event_id: str) -> StoredResult | None:
        return self.rows.get(cause_event_id)

    async def save(self, key: RunKey, result: StoredResult) -> None:
        # Through the same encoding as the table, so a test sees what a redelivery really gets back.
        self.rows.setdefault(key.cause_event_id, StoredResult(result.outcome, load(dump(result.events))))


_FIND = "SELECT outcome, events FROM staging_results WHERE cause_event_id = $1"
_SAVE = """
INSERT INTO staging_results (cause_event_id, publisher_id, offer_id, run_id, outcome, events)
VALUES ($1, $2, $3, $4, $5, $6::jsonb)
ON CONFLICT (cause_event_id) DO NOTHING
"""


class PostgresResultStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def find(self, cause_event_id: str) -> StoredResult | None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(_FIND, cause_event_id)
        if row is None:
            return None
        outcome: Outcome = "canceled" if row["outcome"] == "canceled" else "done"
        return StoredResult(outcome, load(row["events"]))

    async def save(self, key: RunKey, result: StoredResult) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(_SAVE, key.cause_event_id, key.publisher_id, key.offer_id, key.run_id,
                               result.outcome, dump(result.events))
