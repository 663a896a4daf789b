"""The command store on PostgreSQL: the offer's row lock, its state, the outbox and idempotency keys, one
transaction per command. The transaction waits on nothing else: events reach Kafka through the relay."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg

from offerflow_contract import topics
from offerflow_contract.codec import encode, headers_for, key_of
from offerflow_contract.envelope import Envelope
from offerflow_status_api.commands.ports import Answer, KeyTaken, StaleETag
from offerflow_status_api.commands.state import OfferState, RunPhase, SignOff

NOTIFY_CHANNEL = "offerflow_outbox"


def _json(raw: str | None) -> Any:
    return json.loads(raw) if raw is not None else None


def state_from_row(r: asyncpg.Record) -> OfferState:
    return OfferState(
        publisher_id=r["publisher_id"], offer_id=r["offer_id"], offer_type_id=r["offer_type_id"],
        definition=json.loads(r["definition"]), etag=r["etag"], draft_version=r["draft_version"],
        version=r["version"], run_id=r["pending_run_id"],
        run_phase=RunPhase(r["run_phase"]) if r["run_phase"] else None, run_outcome=r["run_outcome"],
        signoff=SignOff(r["signoff"]) if r["signoff"] else None, signoff_at=r["signoff_at"],
        run_emails=json.loads(r["run_emails"]), run_definition=_json(r["run_definition"]),
        live_definition=_json(r["live_definition"]))


def _columns(s: OfferState) -> list[Any]:
    return [s.publisher_id, s.offer_id, s.offer_type_id, json.dumps(s.definition), s.etag, s.draft_version,
            s.version, s.run_id, s.run_phase.value if s.run_phase else None, s.run_outcome,
            s.signoff.value if s.signoff else None, s.signoff_at, json.dumps(s.run_emails),
            json.dumps(s.run_definition) if s.run_definition is not None else None,
            json.dumps(s.live_definition) if s.live_definition is not None else None]


_INSERT = """
INSERT INTO drafts (publisher_id, offer_id, offer_type_id, definition, etag, draft_version, version, pending_run_id,
                    run_phase, run_outcome, signoff, signoff_at, run_emails, run_definition, live_definition)
VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14::jsonb, $15::jsonb)
ON CONFLICT (publisher_id, offer_id) DO NOTHING RETURNING *"""
_UPDATE = """
UPDATE drafts SET offer_type_id = $3, definition = $4::jsonb, etag = $5, draft_version = $6, version = $7,
    pending_run_id = $8, run_phase = $9, run_outcome = $10, signoff = $11, signoff_at = $12, run_emails = $13::jsonb,
    run_definition = $14::jsonb, live_definition = $15::jsonb, updated_at = now()
WHERE publisher_id = $1 AND offer_id = $2"""


def answer_from_row(r: asyncpg.Record) -> Answer:
    return Answer(status=r["status"], body=_json(r["body"]), headers=json.loads(r["headers"]),
                  fingerprint=r["fingerprint"])


class PgUnitOfWork:
    def __init__(self, conn: asyncpg.Connection, publisher_id: str, state: OfferState | None) -> None:
        self.conn, self.publisher_id, self.state = conn, publisher_id, state
        self._pending: list[Envelope] = []
        self._publisher_locked = False

    async def _lock_publisher(self) -> None:
        # A transaction-scoped advisory lock: rows of a publisher's offers may not exist yet (a create), so
        # there is no row to lock; released at commit or rollback.
        if not self._publisher_locked:
            await self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                                    "offerflow.publisher:" + self.publisher_id)
            self._publisher_locked = True

    async def publisher_offers(self) -> int:
        await self._lock_publisher()
        return int(await self.conn.fetchval("SELECT count(*) FROM drafts WHERE publisher_id = $1",
                                            self.publisher_id))

    async def publisher_runs_since(self, since: datetime) -> list[datetime]:
        await self._lock_publisher()
        rows = await self.conn.fetch(
            "SELECT started_at FROM publish_runs WHERE publisher_id = $1 AND started_at >= $2",
            self.publisher_id, since)
        return [r["started_at"] for r in rows]

    async def record_run(self, run_id: str, at: datetime) -> None:
        await self.conn.execute(
            "INSERT INTO publish_runs (publisher_id, run_id, started_at) VALUES ($1, $2, $3)",
            self.publisher_id, run_id, at)
        # Only the last hour counts; rows older than a day go here, with the publisher locked, not in a cleanup job.
        await self.conn.execute(
            "DELETE FROM publish_runs WHERE publisher_id = $1 AND started_at < $2::timestamptz - interval '1 day'",
            self.publisher_id, at)

    async def recall(self, key: str) -> Answer | None:
        r = await self.conn.fetchrow("SELECT * FROM idempotency_keys WHERE publisher_id = $1 AND key = $2",
                                     self.publisher_id, key)
        return answer_from_row(r) if r else None

    async def remember(self, key: str, answer: Answer) -> None:
        stored = await self.conn.fetchval(
            """INSERT INTO idempotency_keys (publisher_id, key, fingerprint, status, body, headers)
               VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb) ON CONFLICT DO NOTHING RETURNING key""",
            self.publisher_id, key, answer.fingerprint, answer.status,
            json.dumps(answer.body) if answer.body is not None else None, json.dumps(answer.headers))
        if stored is None:
            raise KeyTaken(key)

    async def create(self, state: OfferState) -> OfferState:
        r = await self.conn.fetchrow(_INSERT, *_columns(state))
        if r is None:  # created concurrently: the caller's ETag could not have matched it
            raise StaleETag("")
        self.state = state_from_row(r)
        return self.state

    async def save(self, state: OfferState) -> None:
        await self.conn.execute(_UPDATE, *_columns(state))
        self.state = state

    def emit(self, envelope: Envelope) -> None:
        self._pending.append(envelope)

    async def add_support_request(self, row: dict[str, Any]) -> None:
        await self.conn.execute(
            """INSERT INTO support_requests (request_id, publisher_id, offer_id, run_id, step, title, description,
                                            contact_emails)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)""",
            row["request_id"], row["publisher_id"], row["offer_id"], row["run_id"], row["step"], row["title"],
            row["description"], json.dumps(row.get("contact_emails", [])))

    async def flush(self) -> None:
        if not self._pending:
            return
        await self.conn.executemany(
            "INSERT INTO outbox (topic, key, value, headers) VALUES ($1, $2, $3, $4::jsonb)",
            [(topics.PUBLISHING.name, key_of(env), encode(env),
              json.dumps([[k, v.decode()] for k, v in headers_for(env)])) for env in self._pending])
        # Delivered at commit: the relay wakes at once instead of at its next poll.
        await self.conn.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)


class PgCommandStore:
    def __init__(self, pool: Any) -> None:
        self.pool = pool

    @asynccontextmanager
    async def offer(self, publisher_id: str, offer_id: str) -> AsyncIterator[PgUnitOfWork]:
        async with self.pool.acquire() as conn, conn.transaction():
            r = await conn.fetchrow("SELECT * FROM drafts WHERE publisher_id = $1 AND offer_id = $2 FOR UPDATE",
                                    publisher_id, offer_id)
            uow = PgUnitOfWork(conn, publisher_id, state_from_row(r) if r else None)
            yield uow
            await uow.flush()

    async def recall(self, publisher_id: str, key: str) -> Answer | None:
        r = await self.pool.fetchrow("SELECT * FROM idempotency_keys WHERE publisher_id = $1 AND key = $2",
                                     publisher_id, key)
        return answer_from_row(r) if r else None

    async def get(self, publisher_id: str, offer_id: str) -> OfferState | None:
        r = await self.pool.fetchrow("SELECT * FROM drafts WHERE publisher_id = $1 AND offer_id = $2",
                                     publisher_id, offer_id)
        return state_from_row(r) if r else None

    async def list(self, publisher_id: str) -> list[OfferState]:
        rows = await self.pool.fetch("SELECT * FROM drafts WHERE publisher_id = $1 ORDER BY offer_id", publisher_id)
        return [state_from_row(r) for r in rows]
