"""Publishers and bearer tokens. Tokens are random, shown once, and stored only as a SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import asyncpg

TOKEN_PREFIX = "ofp_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Token:
    token_id: str
    publisher_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


class AlreadyExists(Exception):
    pass


class Auth:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def publisher_for(self, token: str) -> str | None:
        """The publisher a live token belongs to; revocation takes effect on the next request."""
        owner = await self.pool.fetchval(
            "SELECT publisher_id FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL", hash_token(token))
        return str(owner) if owner is not None else None

    async def create_publisher(self, publisher_id: str, display_name: str) -> None:
        status = await self.pool.execute(
            "INSERT INTO publishers (publisher_id, display_name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            publisher_id, display_name)
        if status.endswith(" 0"):
            raise AlreadyExists(publisher_id)

    async def publishers(self) -> list[dict[str, object]]:
        rows = await self.pool.fetch("SELECT * FROM publishers ORDER BY publisher_id")
        return [dict(r) for r in rows]

    async def publisher_exists(self, publisher_id: str) -> bool:
        return bool(await self.pool.fetchval("SELECT 1 FROM publishers WHERE publisher_id = $1", publisher_id))

    async def create_token(self, publisher_id: str, name: str) -> tuple[Token, str]:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id = "tok_" + secrets.token_hex(8)
        r = await self.pool.fetchrow(
            """INSERT INTO api_tokens (token_id, publisher_id, name, token_hash) VALUES ($1, $2, $3, $4)
               RETURNING *""", token_id, publisher_id, name, hash_token(token))
        return _token(r), token

    async def tokens(self, publisher_id: str) -> list[Token]:
        rows = await self.pool.fetch("SELECT * FROM api_tokens WHERE publisher_id = $1 ORDER BY created_at",
                                     publisher_id)
        return [_token(r) for r in rows]

    async def revoke(self, token_id: str) -> str | None:
        """Revokes a live token; its hash (to end its open streams), or None when there was no live token."""
        revoked = await self.pool.fetchval(
            "UPDATE api_tokens SET revoked_at = now() WHERE token_id = $1 AND revoked_at IS NULL RETURNING token_hash",
            token_id)
        return str(revoked) if revoked is not None else None


def _token(r: asyncpg.Record) -> Token:
    return Token(r["token_id"], r["publisher_id"], r["name"], r["created_at"], r["revoked_at"])
