"""The grant store in PostgreSQL (``preview_runs``, ``preview_grants``), same rules as ``MemoryGrantStore``.

Every write is one short transaction that waits on nothing but its own statements; the run row is locked
first (``FOR UPDATE``) so a draft saved while grants are being issued cannot slip between them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Collection, Sequence
from pathlib import Path

import asyncpg

from offerflow_packaging.access_rules import Grant
from offerflow_packaging.adapters.grants import AUDIENCE_CHANGED, SUPERSEDED

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

_ADD_RUN = """INSERT INTO preview_runs (run_id, publisher_id, offer_id) VALUES ($1, $2, $3)
              ON CONFLICT (run_id) DO NOTHING"""
_LOCK_RUN = "SELECT closed_reason, closed_at, draft_audience FROM preview_runs WHERE run_id = $1 FOR UPDATE"
_REVOKE_RUNS = """UPDATE preview_grants SET revoked_at = now(), revoked_reason = $2
                  WHERE run_id = ANY($1::text[]) AND revoked_at IS NULL"""
_CLOSE_OTHERS = """UPDATE preview_runs SET closed_at = now(), closed_reason = $4
                   WHERE publisher_id = $1 AND offer_id = $2 AND run_id <> $3 AND closed_at IS NULL
                   RETURNING run_id"""
_CLOSE_ONE = """UPDATE preview_runs SET closed_at = COALESCE(closed_at, now()),
                       closed_reason = COALESCE(closed_reason, $2)
                WHERE run_id = $1"""
_CLOSE_ALL = """UPDATE preview_runs SET closed_at = now(), closed_reason = $3
                WHERE publisher_id = $1 AND offer_id = $2 AND closed_at IS NULL RETURNING run_id"""
_INSERT_GRANT = """INSERT INTO preview_grants (run_id, subscription_id, expires_at, revoked_at, revoked_reason)
                   VALUES ($1, $2, $3, CASE WHEN $4::text IS NULL THEN NULL ELSE now() END, $4)
                   ON CONFLICT (run_id, subscription_id) DO NOTHING"""
_LIVE_GRANTS = """SELECT subscription_id, expires_at FROM preview_grants
                  WHERE run_id = $1 AND subscription_id = ANY($2::text[]) AND revoked_at IS NULL
                  ORDER BY subscription_id"""
_OPEN_RUNS = """SELECT run_id FROM preview_runs WHERE publisher_id = $1 AND offer_id = $2 AND closed_at IS NULL
                ORDER BY run_id FOR UPDATE"""
_SET_AUDIENCE = "UPDATE preview_runs SET draft_audience = $2::jsonb WHERE run_id = ANY($1::text[])"
_REVOKE_OUTSIDE = """UPDATE preview_grants SET revoked_at = now(), revoked_reason = $3
                     WHERE run_id = ANY($1::text[]) AND revoked_at IS NULL AND NOT (subscription_id = ANY($2::text[]))
                     RETURNING subscription_id"""
_ACTIVE = """SELECT 1 FROM preview_grants g JOIN preview_runs r USING (run_id)
             WHERE g.run_id = $1 AND g.subscription_id = $2 AND r.publisher_id = $3 AND r.offer_id = $4
               AND g.expires_at = $5 AND g.revoked_at IS NULL AND r.closed_at IS NULL"""


class LazyPool:
    """Opens the migrated pool on first use, on the loop that uses it (the worker's, shared by the storefront)."""

    def __init__(self, opener: Callable[[], Awaitable[asyncpg.Pool]]) -> None:
        self._opener = opener
        self._pool: asyncpg.Pool | None = None
        self._lock: asyncio.Lock | None = None

    async def get(self) -> asyncpg.Pool:
        if self._pool is None:
            self._lock = self._lock or asyncio.Lock()
            async with self._lock:
                if self._pool is None:
                    self._pool = await self._opener()
        return self._pool


class PostgresGrantStore:
    def __init__(self, pool: LazyPool) -> None:
        self._pool = pool

    async def start_run(self, publisher: str, offer: str, run_id: str) -> None:
        async with (await self._pool.get()).acquire() as conn, conn.transaction():
            await conn.execute(_ADD_RUN, run_id, publisher, offer)
            row = await conn.fetchrow(_LOCK_RUN, run_id)
            if row is None or row["closed_at"] is not None:
                return  # a replayed old publish must not end the runs that came after it
            others = [r["run_id"] for r in await conn.fetch(_CLOSE_OTHERS, publisher, offer, run_id, SUPERSEDED)]
            await conn.execute(_REVOKE_RUNS, others, SUPERSEDED)

    async def run_closed(self, run_id: str) -> bool:
        async with (await self._pool.get()).acquire() as conn:
            closed = await conn.fetchval("SELECT closed_at FROM preview_runs WHERE run_id = $1", run_id)
        return closed is not None

    async def issue(
        self, publisher: str, offer: str, run_id: str, subscriptions: Sequence[str], expires_at: int
    ) -> dict[str, int]:
        async with (await self._pool.get()).acquire() as conn, conn.transaction():
            await conn.execute(_ADD_RUN, run_id, publisher, offer)
            row = await conn.fetchrow(_LOCK_RUN, run_id)
            assert row is not None
            audience = None if row["draft_audience"] is None else set(json.loads(row["draft_audience"]))
            rows = []
            for sub in subscriptions:
                outside = audience is not None and sub not in audience
                rows.append((run_id, sub, expires_at, row["closed_reason"] or (AUDIENCE_CHANGED if outside else None)))
            await conn.executemany(_INSERT_GRANT, rows)
            live = await conn.fetch(_LIVE_GRANTS, run_id, list(subscriptions))
        return {r["subscription_id"]: r["expires_at"] for r in live}

    async def open_runs(self, publisher: str, offer: str) -> list[str]:
        async with (await self._pool.get()).acquire() as conn:
            rows = await conn.fetch("""SELECT run_id FROM preview_runs WHERE publisher_id = $1 AND offer_id = $2
                                       AND closed_at IS NULL ORDER BY run_id""", publisher, offer)
        return [r["run_id"] for r in rows]

    async def restrict(self, publisher: str, offer: str, audience: Collection[str]) -> list[str]:
        keep = sorted(audience)
        async with (await self._pool.get()).acquire() as conn, conn.transaction():
            runs = [r["run_id"] for r in await conn.fetch(_OPEN_RUNS, publisher, offer)]
            if not runs:
                return []
            await conn.execute(_SET_AUDIENCE, runs, json.dumps(keep))
            revoked = await conn.fetch(_REVOKE_OUTSIDE, runs, keep, AUDIENCE_CHANGED)
        return sorted(r["subscription_id"] for r in revoked)

    async def close_run(self, publisher: str, offer: str, run_id: str | None, reason: str) -> None:
        async with (await self._pool.get()).acquire() as conn, conn.transaction():
            if run_id is not None:
                await conn.execute(_ADD_RUN, run_id, publisher, offer)
                await conn.execute(_CLOSE_ONE, run_id, reason)
                runs = [run_id]
            else:
                runs = [r["run_id"] for r in await conn.fetch(_CLOSE_ALL, publisher, offer, reason)]
            await conn.execute(_REVOKE_RUNS, runs, reason)

    async def is_active(self, grant: Grant) -> bool:
        async with (await self._pool.get()).acquire() as conn:
            found = await conn.fetchval(
                _ACTIVE, grant.run_id, grant.subscription, grant.publisher, grant.offer, grant.expires_at
            )
        return found is not None
