"""The support desk's command store on PostgreSQL: one request's row locked for the transaction, its events into
the same outbox as every other command (``PgUnitOfWork.flush``), committed together."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from offerflow_contract.envelope import Envelope
from offerflow_status_api.commands.postgres import PgUnitOfWork
from offerflow_status_api.commands.support import SupportRow


def row_of(r: asyncpg.Record) -> SupportRow:
    return SupportRow(request_id=r["request_id"], publisher_id=r["publisher_id"], offer_id=r["offer_id"],
                      run_id=r["run_id"], step=r["step"], title=r["title"], status=r["status"], seq=r["seq"],
                      contact_emails=tuple(json.loads(r["contact_emails"])))


class PgSupportUnit:
    def __init__(self, conn: asyncpg.Connection, row: SupportRow | None) -> None:
        self.conn, self.row = conn, row
        self._outbox = PgUnitOfWork(conn, row.publisher_id if row else "", None)

    async def save(self, row: SupportRow) -> None:
        await self.conn.execute(
            "UPDATE support_requests SET status = $2, seq = $3, updated_at = now() WHERE request_id = $1",
            row.request_id, row.status, row.seq)
        self.row = row

    def emit(self, envelope: Envelope) -> None:
        self._outbox.emit(envelope)

    async def flush(self) -> None:
        await self._outbox.flush()


class PgSupportStore:
    def __init__(self, pool: Any) -> None:
        self.pool = pool

    @asynccontextmanager
    async def request(self, request_id: str) -> AsyncIterator[PgSupportUnit]:
        async with self.pool.acquire() as conn, conn.transaction():
            r = await conn.fetchrow("SELECT * FROM support_requests WHERE request_id = $1 FOR UPDATE", request_id)
            unit = PgSupportUnit(conn, row_of(r) if r else None)
            yield unit
            await unit.flush()
