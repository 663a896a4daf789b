"""Command-side state: the draft under edit (optimistic concurrency by ETag) and the run it started."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg


@dataclass(frozen=True)
class Draft:
    publisher_id: str
    offer_id: str
    offer_type_id: str
    definition: dict[str, Any]
    etag: str
    draft_version: int
    version: int
    pending_run_id: str | None

    @classmethod
    def from_row(cls, r: asyncpg.Record) -> Draft:
        return cls(r["publisher_id"], r["offer_id"], r["offer_type_id"], json.loads(r["definition"]), r["etag"],
                   r["draft_version"], r["version"], r["pending_run_id"])


class StaleETag(Exception):
    pass


def new_etag() -> str:
    return f'"{uuid.uuid4().hex}"'


class Drafts:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def get(self, publisher_id: str, offer_id: str, conn: asyncpg.Connection | None = None) -> Draft | None:
        q = "SELECT * FROM drafts WHERE publisher_id = $1 AND offer_id = $2"
        r = await (conn or self.pool).fetchrow(q, publisher_id, offer_id)
        return Draft.from_row(r) if r else None

    async def lock(self, conn: asyncpg.Connection, publisher_id: str, offer_id: str) -> Draft | None:
        """Row lock held until the caller's transaction ends: one command per offer at a time."""
        r = await conn.fetchrow("SELECT * FROM drafts WHERE publisher_id = $1 AND offer_id = $2 FOR UPDATE",
                                publisher_id, offer_id)
        return Draft.from_row(r) if r else None

    async def list(self, publisher_id: str) -> list[Draft]:
        rows = await self.pool.fetch("SELECT * FROM drafts WHERE publisher_id = $1 ORDER BY offer_id", publisher_id)
        return [Draft.from_row(r) for r in rows]

    async def save(
        self, conn: asyncpg.Connection, publisher_id: str, offer_id: str, offer_type_id: str,
        definition: dict[str, Any], if_match: str,
    ) -> tuple[Draft, bool]:
        """Create or replace the draft; ``if_match`` is an ETag or ``*``. Returns (draft, created)."""
        current = await self.lock(conn, publisher_id, offer_id)
        if current is not None and if_match != "*" and if_match != current.etag:
            raise StaleETag(current.etag)
        etag = new_etag()
        if current is None:
            r = await conn.fetchrow(
                """INSERT INTO drafts (publisher_id, offer_id, offer_type_id, definition, etag, draft_version)
                   VALUES ($1, $2, $3, $4::jsonb, $5, 1)
                   ON CONFLICT (publisher_id, offer_id) DO NOTHING RETURNING *""",
                publisher_id, offer_id, offer_type_id, json.dumps(definition), etag)
            if r is None:  # created concurrently between our lock attempt and insert
                raise StaleETag("")
            return Draft.from_row(r), True
        r = await conn.fetchrow(
            """UPDATE drafts SET definition = $3::jsonb, offer_type_id = $4, etag = $5,
                 draft_version = draft_version + 1, updated_at = now()
               WHERE publisher_id = $1 AND offer_id = $2 RETURNING *""",
            publisher_id, offer_id, json.dumps(definition), offer_type_id, etag)
        return Draft.from_row(r), False

    async def start_run(self, conn: asyncpg.Connection, draft: Draft, run_id: str, offer_version: int) -> None:
        await conn.execute(
            """UPDATE drafts SET pending_run_id = $3, version = $4, updated_at = now()
               WHERE publisher_id = $1 AND offer_id = $2""",
            draft.publisher_id, draft.offer_id, run_id, offer_version)
