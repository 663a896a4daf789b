"""The rebuild against a real PostgreSQL (OFFERFLOW_DATABASE_DSN); skipped without one.

The records stand in for the topics (the broker's part is tests/api/test_rebuild.py): shuffled, with
redeliveries, re-emissions and records the contract refuses, the rebuild gives the rows the live projection
gives, and the archive gets its indexes back, whether its duplicates are found in memory or by its primary key.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from offerflow_contract import codec
from offerflow_contract.envelope import ContractError, Envelope, Event, wrap
from offerflow_contract.events import (
    CertificationFailed,
    CertificationProgressed,
    CertificationStarted,
    OfferDraftSaved,
    OfferSnapshot,
    PublishRequested,
    Reason,
    ValidationPassed,
    ValidationStarted,
)
from offerflow_shared import db
from offerflow_status_api import rebuild
from offerflow_status_api.adapters.read_model import ReadModel
from offerflow_status_api.bootstrap import MIGRATIONS

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.environ.get("OFFERFLOW_DATABASE_DSN"), reason="needs OFFERFLOW_DATABASE_DSN"),
]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
TABLES = {
    "event_archive": "SELECT * FROM event_archive ORDER BY event_id",
    "run_states": "SELECT * FROM run_states ORDER BY run_id",
    "runs": "SELECT * FROM runs ORDER BY run_id",
    "offers": "SELECT * FROM offers ORDER BY publisher_id, offer_id",
    "offer_versions": "SELECT * FROM offer_versions ORDER BY publisher_id, offer_id, version",
    "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'event_archive' ORDER BY indexname",
}


@pytest.fixture
async def make_database() -> AsyncIterator[Callable[[], Any]]:
    """Fresh migrated databases (a rebuild empties the read model: never the shared one's)."""
    dsn = os.environ.get("OFFERFLOW_DATABASE_MIGRATION_DSN") or os.environ["OFFERFLOW_DATABASE_DSN"]
    admin = await asyncpg.connect(dsn)
    made: list[str] = []

    async def make() -> str:
        name = f"rebuild_{uuid.uuid4().hex[:12]}"
        await admin.execute(f"CREATE DATABASE {name}")
        made.append(name)
        conn = await asyncpg.connect(dsn.rsplit("/", 1)[0] + f"/{name}")
        try:
            await db.migrate(conn, "status-api", MIGRATIONS)
        finally:
            await conn.close()
        return dsn.rsplit("/", 1)[0] + f"/{name}"

    try:
        yield make
    finally:
        for name in made:
            await admin.execute(f"DROP DATABASE {name}")
        await admin.close()


def offer_events(offer: str, version: int, start: datetime) -> list[Envelope]:
    """A draft and a failed run of ``offer``, with progress reported after the failure."""
    run = str(uuid.uuid4())
    snap = OfferSnapshot(offer_version=version, definition={"displayText": offer},
                         notification_emails=["a@b.example"])
    events: list[Event] = [
        PublishRequested(offer=snap, requested_by="p"), ValidationStarted(), ValidationPassed(offer=snap),
        CertificationStarted(), CertificationProgressed(percentage=40, message="one"),
        CertificationFailed(summary="bad disk", reasons=[Reason(code="x", message="broken", field="/disk")]),
        CertificationProgressed(percentage=90, message="late")]
    draft = OfferDraftSaved(offer_type_id="t", draft_version=version, etag='"e"', definition={"displayText": offer})
    return [wrap(draft, offer_id=offer, publisher_id="pub-rb", run_id=None, producer="t", occurred_at=start)] + [
        wrap(e, offer_id=offer, publisher_id="pub-rb", run_id=run, producer="t",
             occurred_at=start + timedelta(seconds=i + 1)) for i, e in enumerate(events)]


def records(seed: int) -> list[bytes | None]:
    """Twelve runs of six offers, shuffled; every fourth event delivered twice, every seventh re-emitted later
    (same id, later time: the first copy counts); a tombstone, garbage and an event of no known type."""
    rng = random.Random(seed)
    envs = [env for i in range(12) for env in offer_events(f"rb-{i % 6}", i // 6 + 1, T0 + timedelta(hours=i))]
    rng.shuffle(envs)
    out: list[bytes | None] = []
    for i, env in enumerate(envs):
        out.append(codec.encode(env))
        if i % 4 == 0:
            out.append(codec.encode(env))
        if i % 7 == 0:
            out.append(codec.encode(env.model_copy(update={"occurred_at": env.occurred_at + timedelta(days=1)})))
    unknown = json.loads(out[0] or b"")
    unknown["event_type"] = "offer.unheard_of"
    out[5:5] = [None, b"not json", json.dumps(unknown).encode()]
    return out


async def live(dsn: str, raws: list[bytes | None]) -> None:
    """What the live projection does: the worker refuses what the contract refuses, the read model applies
    the rest one at a time."""
    pool = await db.create_pool(dsn)
    try:
        model = ReadModel(pool)
        for raw in raws:
            try:
                env = codec.decode(raw)
                event = env.event()
            except ContractError:
                continue
            await model.apply(env, event)
    finally:
        await pool.close()


async def dump(dsn: str) -> dict[str, list[dict[str, Any]]]:
    conn = await asyncpg.connect(dsn)
    try:
        out = {}
        for table, query in TABLES.items():
            found = [dict(r) for r in await conn.fetch(query)]
            for row in found:
                row.pop("recorded_at", None)  # the time of writing, not of the event
                for k in ("payload", "state", "document", "definition"):
                    if isinstance(row.get(k), str):
                        row[k] = json.loads(row[k])
            out[table] = found
        return out
    finally:
        await conn.close()


@pytest.mark.parametrize(("ids_in_memory", "runs_in_memory", "batch"), [
    (rebuild.IDS_IN_MEMORY, rebuild.RUNS_IN_MEMORY, 20_000),  # one batch, duplicates found in memory
    (rebuild.IDS_IN_MEMORY, 3, 7),  # many batches and flushes of the run states
    (30, 3, 7),  # past 30 ids, the indexes are built mid-way and the primary key finds the duplicates
])
async def test_the_rebuild_gives_the_rows_of_the_live_projection(
        make_database: Callable[[], Any], monkeypatch: pytest.MonkeyPatch,
        ids_in_memory: int, runs_in_memory: int, batch: int) -> None:
    raws = records(seed=ids_in_memory + runs_in_memory)

    async def from_the_list(_bootstrap: str, size: int = batch, *,
                            parse: Callable[[bytes | None], tuple[Envelope, Event]] = rebuild.decode,
                            ) -> AsyncIterator[tuple[list[tuple[Envelope, Event]], int, int]]:
        for start in range(0, len(raws), size):
            parsed, skipped = [], 0
            for raw in raws[start:start + size]:
                try:
                    parsed.append(parse(raw))
                except ContractError:
                    skipped += 1
            yield parsed, len(raws[start:start + size]), skipped

    monkeypatch.setattr(rebuild, "read_batches", from_the_list)
    want_dsn, got_dsn = await make_database(), await make_database()
    await live(want_dsn, raws)
    # Rows from an earlier state of the read model: the rebuild replaces them.
    await live(got_dsn, raws[: len(raws) // 2])
    stats = await rebuild.rebuild(got_dsn, "unused:9092", runs_in_memory=runs_in_memory,
                                  ids_in_memory=ids_in_memory)

    want, got = await dump(want_dsn), await dump(got_dsn)
    assert (stats.records, stats.skipped, stats.events, stats.runs, stats.offers) == (
        len(raws), 3, 12 * 8, 12, 6)
    assert len(want["event_archive"]) == 12 * 8
    assert [i["indexname"] for i in want["indexes"]] == ["event_archive_offer", "event_archive_pkey",
                                                         "event_archive_run"]
    for table in TABLES:
        assert got[table] == want[table], table
