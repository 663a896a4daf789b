"""PostgreSQL helpers: a pool and numbered SQL migrations applied at start."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

log = logging.getLogger("offerflow.db")
_MIGRATION = re.compile(r"^(\d{3,})_[\w-]+\.sql$")
# One lock for all services: migrations of different services never run at the same moment.
_LOCK_ID = 0x0FFE_F10


@dataclass(frozen=True)
class Timeouts:
    """Server-side limits on every connection of a pool, so that no session can hold others hostage.

    A lock wait, a statement, or a transaction left idle past its limit is ended by PostgreSQL with an error
    (the caller answers 503 or retries) instead of piling up behind it.
    """

    lock: str = "5s"
    statement: str = "60s"
    idle_in_transaction: str = "60s"

    def server_settings(self) -> dict[str, str]:
        return {"lock_timeout": self.lock, "statement_timeout": self.statement,
                "idle_in_transaction_session_timeout": self.idle_in_transaction}


# The publisher API: a request never waits long on a lock; the pool answers "busy" instead of hanging.
API_TIMEOUTS = Timeouts(lock="2s", statement="10s", idle_in_transaction="15s")
# Offline operator tools that own the database for their whole run (a read-model rebuild); 0 = no limit.
UNLIMITED = Timeouts(lock="0", statement="0", idle_in_transaction="0")


class TransactionScopedConnection(asyncpg.Connection):  # type: ignore[misc]
    """A connection given back to its pool without asyncpg's session reset.

    asyncpg sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` on every release: one more
    round trip and four statements per request. A pool whose users keep no session state (only
    transaction-scoped locks, no LISTEN, no SET, no cursors outside a transaction) does not need it; an open
    transaction is still rolled back on release.
    """

    def get_reset_query(self) -> str:
        return ""


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 5, timeouts: Timeouts | None = None,
                      session_reset: bool = True) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size,
                                     server_settings=(timeouts or Timeouts()).server_settings(),
                                     connection_class=asyncpg.Connection if session_reset
                                     else TransactionScopedConnection)
    assert pool is not None
    return pool


async def open_migrated(dsn: str, component: str, directory: Path, *, max_size: int = 5,
                        timeouts: Timeouts | None = None, migration_dsn: str | None = None,
                        session_reset: bool = True) -> asyncpg.Pool:
    """A pool on ``dsn`` whose schema for ``component`` is up to date (call it on the worker's event loop).

    The services' role may only read and write rows; the migrations (DDL) run as the schema's owner, on one
    connection of ``migration_dsn`` (``OFFERFLOW_DATABASE_MIGRATION_DSN``) closed right after. Without one they
    run on ``dsn``: that needs a role allowed to create tables, or a schema some migration job made up to date.
    """
    if migration_dsn:
        owner = await asyncpg.connect(migration_dsn)
        try:
            applied = await migrate(owner, component, directory)
        finally:
            await owner.close()
        pool = await create_pool(dsn, max_size=max_size, timeouts=timeouts, session_reset=session_reset)
    else:
        pool = await create_pool(dsn, max_size=max_size, timeouts=timeouts, session_reset=session_reset)
        try:
            async with pool.acquire() as conn:
                applied = await migrate(conn, component, directory)
        except BaseException:
            await pool.close()
            raise
    if applied:
        log.info("%s: applied migrations %s", component, ", ".join(applied))
    return pool


async def migrate(conn: asyncpg.Connection, component: str, directory: Path) -> list[str]:
    """Apply ``NNN_name.sql`` files of ``directory`` not yet applied for ``component``, in order."""
    files = sorted(p for p in directory.iterdir() if _MIGRATION.match(p.name))  # noqa: ASYNC240 - a few names, once
    applied: list[str] = []
    # Waiting for another service's migrations is expected at start: no lock or statement limit here.
    await conn.execute("SET lock_timeout = 0; SET statement_timeout = 0")
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
    try:
        # Only when missing: even CREATE TABLE IF NOT EXISTS needs the right to create tables, which a role
        # without DDL (a schema migrated by its owner) lacks.
        if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       component text NOT NULL, version int NOT NULL, name text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version))"""
            )
        done = {r["version"] for r in await conn.fetch(
            "SELECT version FROM schema_migrations WHERE component = $1", component)}
        for path in files:
            m = _MIGRATION.match(path.name)
            assert m is not None
            version = int(m.group(1))
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text())
                await conn.execute(
                    "INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)",
                    component, version, path.name,
                )
            applied.append(path.name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)
        await conn.execute("RESET lock_timeout; RESET statement_timeout")
    return applied


class PoolBusy(Exception):
    """Every connection of the pool stayed in use past the acquire timeout."""


class BoundedPool:
    """A pool whose callers wait at most ``acquire_timeout`` for a connection, then get :class:`PoolBusy`.

    asyncpg's own ``Pool.fetch`` & co. wait forever for a free connection; an API must answer "busy, retry"
    at once instead, so its requests never queue behind a stuck one.
    """

    def __init__(self, pool: asyncpg.Pool, acquire_timeout: float = 2.0) -> None:
        self.pool, self.acquire_timeout = pool, acquire_timeout

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        try:
            conn = await self.pool.acquire(timeout=self.acquire_timeout)
        except TimeoutError as exc:
            raise PoolBusy(f"no database connection free within {self.acquire_timeout}s") from exc
        try:
            yield conn
        finally:
            await self.pool.release(conn)

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async with self.acquire() as conn:
            return list(await conn.fetch(query, *args))

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        async with self.acquire() as conn:
            return await conn.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self.acquire() as conn:
            return await conn.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        async with self.acquire() as conn:
            return str(await conn.execute(query, *args))

    async def executemany(self, query: str, args: Any) -> None:
        async with self.acquire() as conn:
            await conn.executemany(query, args)

    async def close(self) -> None:
        await self.pool.close()
