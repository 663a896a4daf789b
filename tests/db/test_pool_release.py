"""The API's request pool gives connections back without asyncpg's session reset (offerflow_shared.db), on the
real PostgreSQL of the test run: what a release must still guarantee, and that the reset round trip is gone."""

from __future__ import annotations

import asyncpg
import pytest

from offerflow_shared import db
from tests.conftest import Dsns

pytestmark = pytest.mark.integration


async def released_state(pool: asyncpg.Pool) -> tuple[str, int]:
    async with pool.acquire() as conn:
        return (await conn.fetchval("SELECT current_setting('application_name')"),
                await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = "
                                    "pg_backend_pid()"))


async def test_a_transaction_left_open_is_rolled_back_and_its_locks_freed(dsns: Dsns) -> None:
    pool = await db.create_pool(dsns.app, min_size=1, max_size=1, session_reset=False)
    try:
        conn = await pool.acquire()
        session = conn.get_server_pid()
        tx = conn.transaction()
        await tx.start()
        await conn.execute("SELECT pg_advisory_xact_lock(4242)")
        await conn.execute("CREATE TEMP TABLE left_behind (x int) ON COMMIT DROP")
        await pool.release(conn)  # as a cancelled request would: inside its transaction
        async with pool.acquire() as again:
            assert again.get_server_pid() == session  # the same session: one connection in the pool
            assert not again.is_in_transaction()
            assert await again.fetchval("SELECT to_regclass('pg_temp.left_behind')") is None
            assert await again.fetchval("SELECT pg_try_advisory_xact_lock(4242)") is True
    finally:
        await pool.close()


async def test_no_reset_statement_reaches_the_server(dsns: Dsns) -> None:
    """The default pool sends ``RESET ALL`` on release; this one keeps a session setting, which proves it sent none."""
    for session_reset, kept in ((True, False), (False, True)):
        pool = await db.create_pool(dsns.app, min_size=1, max_size=1, session_reset=session_reset)
        try:
            async with pool.acquire() as conn:
                await conn.execute("SET application_name = 'marker'")
            name, _ = await released_state(pool)
            assert (name == "marker") is kept
        finally:
            await pool.close()
