"""PostgreSQL helpers: a pool and numbered SQL migrations applied at start."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import asyncpg

log = logging.getLogger("offerflow.db")
_MIGRATION = re.compile(r"^(\d{3,})_[\w-]+\.sql$")
# One lock for all services: migrations of different services never run at the same moment.
_LOCK_ID = 0x0FFE_F10


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 5) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)
    assert pool is not None
    return pool


async def open_migrated(dsn: str, component: str, directory: Path, *, max_size: int = 5) -> asyncpg.Pool:
    """A pool on ``dsn`` whose schema for ``component`` is up to date (call it on the worker's event loop)."""
    pool = await create_pool(dsn, max_size=max_size)
    async with pool.acquire() as conn:
        applied = await migrate(conn, component, directory)
    if applied:
        log.info("%s: applied migrations %s", component, ", ".join(applied))
    return pool


async def migrate(conn: asyncpg.Connection, component: str, directory: Path) -> list[str]:
    """Apply ``NNN_name.sql`` files of ``directory`` not yet applied for ``component``, in order."""
    files = sorted(p for p in directory.iterdir() if _MIGRATION.match(p.name))  # noqa: ASYNC240 - a few names, once
    applied: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
    try:
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
    return applied
