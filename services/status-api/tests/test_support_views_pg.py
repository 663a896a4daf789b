"""The support desk's read model on a real PostgreSQL (OFFERFLOW_DATABASE_DSN); skipped without one: built by
the live projection in any arrival order and with redeliveries, and given back the same by a rebuild."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from offerflow_contract import codec
from offerflow_contract.envelope import Envelope, Event, wrap
from offerflow_contract.events import (
    SupportRequestAnswered,
    SupportRequestClosed,
    SupportRequestOpened,
    SupportRequestReplied,
)
from offerflow_shared import db
from offerflow_status_api import rebuild
from offerflow_status_api.adapters.read_model import ReadModel
from offerflow_status_api.bootstrap import MIGRATIONS
from offerflow_status_api.projection.support import SupportViews

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.environ.get("OFFERFLOW_DATABASE_DSN"), reason="needs OFFERFLOW_DATABASE_DSN"),
]
T0 = datetime(2026, 3, 1, tzinfo=UTC)
EMAILS = ["owner@contoso.example"]


@pytest.fixture
async def database() -> AsyncIterator[Callable[[], Any]]:
    """Fresh migrated databases (a rebuild empties the read model: never the shared one's)."""
    dsn = os.environ.get("OFFERFLOW_DATABASE_MIGRATION_DSN") or os.environ["OFFERFLOW_DATABASE_DSN"]
    admin = await asyncpg.connect(dsn)
    made: list[str] = []

    async def make() -> str:
        name = f"support_{uuid.uuid4().hex[:12]}"
        await admin.execute(f"CREATE DATABASE {name}")
        made.append(name)
        url = dsn.rsplit("/", 1)[0] + f"/{name}"
        conn = await asyncpg.connect(url)
        try:
            await db.migrate(conn, "status-api", MIGRATIONS)
        finally:
            await conn.close()
        return url

    try:
        yield make
    finally:
        for name in made:
            await admin.execute(f"DROP DATABASE {name}")
        await admin.close()


def conversation(request_id: str, publisher: str, *, closed: bool) -> list[Envelope]:
    events: list[Event] = [
        SupportRequestOpened(request_id=request_id, step="displaycertify", title="Disk refused",
                             description="Why?", messages=["Disk type failed"], contact_emails=EMAILS,
                             requested_by=publisher),
        SupportRequestAnswered(request_id=request_id, seq=2, title="Disk refused", message="Make it fixed.",
                               answered_by="alice", contact_emails=EMAILS),
        SupportRequestReplied(request_id=request_id, seq=3, title="Disk refused", message="It is fixed.",
                              replied_by=publisher)]
    if closed:
        events.append(SupportRequestClosed(request_id=request_id, seq=4, title="Disk refused", closed_by="alice",
                                           role="support", message="Footer fixed on our side.",
                                           contact_emails=EMAILS))
    return [wrap(e, offer_id="vm-1", publisher_id=publisher, run_id="run-1", producer="t",
                 occurred_at=T0 + timedelta(minutes=i)) for i, e in enumerate(events)]


async def apply_live(dsn: str, envs: list[Envelope]) -> None:
    pool = await db.create_pool(dsn)
    try:
        model = ReadModel(pool)
        for env in envs:
            await model.apply(env, env.event())
    finally:
        await pool.close()


async def views(dsn: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None, dict[str, Any] | None]:
    pool = await db.create_pool(dsn)
    try:
        v = SupportViews(pool)
        return (await v.list(), await v.get("sr-a", publisher_id="contoso"), await v.get("sr-a",
                                                                                          publisher_id="fabrikam"))
    finally:
        await pool.close()


async def test_any_order_and_redeliveries_give_one_conversation_and_the_rebuild_the_same(
        database: Callable[[], Any], monkeypatch: pytest.MonkeyPatch) -> None:
    envs = conversation("sr-a", "contoso", closed=False) + conversation("sr-b", "fabrikam", closed=True)
    shuffled = envs + envs[:3]  # redeliveries: the same event ids again
    random.Random(7).shuffle(shuffled)
    live_dsn, rebuilt_dsn = await database(), await database()
    await apply_live(live_dsn, shuffled)
    listed, mine, theirs = await views(live_dsn)

    # Opened at the same time: newest first, then by id.
    assert [(r["id"], r["publisherId"], r["status"]) for r in listed] == [
        ("sr-a", "contoso", "open"), ("sr-b", "fabrikam", "closed")]
    assert theirs is None  # another publisher's request is not theirs to read
    assert mine is not None and mine["status"] == "open" and mine["contactEmails"] == EMAILS
    assert [(m["seq"], m["kind"], m["role"], m["author"], m["text"]) for m in mine["conversation"]] == [
        (1, "opened", "publisher", "contoso", "Why?"), (2, "answered", "support", "alice", "Make it fixed."),
        (3, "replied", "publisher", "contoso", "It is fixed.")]

    raws = [codec.encode(e) for e in shuffled]

    async def from_the_list(_bootstrap: str, size: int = 20_000, *,
                            parse: Callable[[bytes | None], tuple[Envelope, Event]] = rebuild.decode,
                            ) -> AsyncIterator[tuple[list[tuple[Envelope, Event]], int, int]]:
        yield [parse(r) for r in raws], len(raws), 0

    monkeypatch.setattr(rebuild, "read_batches", from_the_list)
    # A stale request in the read model that the topics do not hold: the rebuild drops it.
    await apply_live(rebuilt_dsn, conversation("sr-stale", "contoso", closed=False)[:1])
    await rebuild.rebuild(rebuilt_dsn, "unused:9092")
    assert await views(rebuilt_dsn) == (listed, mine, theirs)
    conn = await asyncpg.connect(rebuilt_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM support_events") == len(envs)
    finally:
        await conn.close()
