"""The command log: every command the API received and what became of it."""

from __future__ import annotations

from typing import Any

import asyncpg


class CommandLog:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def record(self, publisher_id: str, offer_id: str, action: str, outcome: str, http_status: int,
                     *, run_id: str | None = None, detail: str = "") -> None:
        await self.pool.execute(
            """INSERT INTO command_log (publisher_id, offer_id, action, outcome, http_status, run_id, detail)
               VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            publisher_id, offer_id, action, outcome, http_status, run_id, detail[:2000])

    async def entries(self, publisher_id: str, offer_id: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT * FROM command_log WHERE publisher_id = $1 AND offer_id = $2 ORDER BY at, id",
            publisher_id, offer_id)
        return [dict(r) for r in rows]
