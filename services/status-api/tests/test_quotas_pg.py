"""Per-publisher quotas on the real command store (PostgreSQL, OFFERFLOW_DATABASE_DSN; skipped without one):
concurrent commands of one publisher cannot overrun a quota, and a refused command leaves no row behind."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from offerflow_shared import db
from offerflow_status_api.bootstrap import MIGRATIONS
from offerflow_status_api.commands import CommandService, Publish, QuotaExceeded, Quotas, SaveDraft
from offerflow_status_api.commands.postgres import PgCommandStore

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.environ.get("OFFERFLOW_DATABASE_DSN"), reason="needs OFFERFLOW_DATABASE_DSN"),
]
PUB = "quota-pg"


@pytest.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    # A database of its own: drafts and outbox rows written here must never reach the stack's relay.
    dsn = os.environ.get("OFFERFLOW_DATABASE_MIGRATION_DSN") or os.environ["OFFERFLOW_DATABASE_DSN"]
    name = f"quotas_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f"CREATE DATABASE {name}")
    created = await db.create_pool(dsn.rsplit("/", 1)[0] + f"/{name}", max_size=8, timeouts=db.API_TIMEOUTS)
    try:
        async with created.acquire() as conn:
            await db.migrate(conn, "status-api", MIGRATIONS)
        yield created
    finally:
        await created.close()
        await admin.execute(f"DROP DATABASE {name}")
        await admin.close()


def draft(offer: str) -> SaveDraft:
    return SaveDraft(publisher_id=PUB, offer_id=offer, offer_type_id="vm", definition={"displayText": offer},
                     if_match="*")


async def test_concurrent_creates_of_one_publisher_stop_at_the_quota(pool: asyncpg.Pool) -> None:
    svc = CommandService(store=PgCommandStore(pool), quotas=Quotas(max_offers=2))
    results = await asyncio.gather(*(svc.save_draft(draft(f"o{i}")) for i in range(6)), return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 2, results
    assert all(isinstance(r, QuotaExceeded) for r in results if isinstance(r, BaseException)), results
    assert await pool.fetchval("SELECT count(*) FROM drafts WHERE publisher_id = $1", PUB) == 2
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 2  # one draft_saved per saved offer only


async def test_runs_per_hour_are_counted_in_the_publish_transaction(pool: asyncpg.Pool) -> None:
    now = [datetime.now(UTC)]
    svc = CommandService(store=PgCommandStore(pool), quotas=Quotas(max_runs_per_hour=2), clock=lambda: now[0])
    for offer in ("a", "b", "c"):
        await svc.save_draft(draft(offer))

    def publish(offer: str) -> Publish:
        return Publish(publisher_id=PUB, offer_id=offer, notification_emails=["a@b.example"], requested_by=PUB)

    answers = await asyncio.gather(*(svc.publish(publish(o)) for o in ("a", "b", "c")))
    assert sorted(a.status for a in answers) == [202, 202, 429]
    refused = next(a for a in answers if a.status == 429)
    assert 3590 <= int(refused.headers["Retry-After"]) <= 3600
    assert await pool.fetchval("SELECT count(*) FROM publish_runs WHERE publisher_id = $1", PUB) == 2
    # An hour on, the refused offer may start its run.
    now[0] += timedelta(hours=1, seconds=1)
    offer = next(o for o, a in zip(("a", "b", "c"), answers, strict=True) if a.status == 429)
    assert (await svc.publish(publish(offer))).status == 202
