"""Rebuild the read model from the topics: Kafka is the source of truth.

Drops the projection's tables, reads every topic of the contract from the beginning (no consumer group),
archives every event in bulk, then derives runs and offers with the same functions the live projection
uses, so the result is the same read model. The live projection must be stopped meanwhile.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from offerflow_contract import codec, topics
from offerflow_contract.envelope import ContractError, Envelope
from offerflow_contract.events import OfferDraftSaved, PublishRequested
from offerflow_shared import db
from offerflow_status_api.adapters.read_model import ReadModel, row_to_envelope
from offerflow_status_api.bootstrap import open_database

READ_MODEL_TABLES = ("event_archive", "runs", "offers", "offer_versions")
PROJECTION_GROUP = "offerflow-status-projection"


@dataclass
class RebuildStats:
    records: int = 0
    events: int = 0
    skipped: int = 0
    runs: int = 0
    offers: int = 0
    seconds: float = 0.0


async def read_batches(bootstrap: str, batch: int = 20_000) -> AsyncIterator[tuple[list[Envelope], int, int]]:
    """Every decodable event of every topic up to the end offsets taken at the start, in batches."""
    parts = await _partitions(bootstrap)
    if not parts:
        return
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                                max_partition_fetch_bytes=8 * 1024 * 1024, fetch_max_bytes=64 * 1024 * 1024)
    await consumer.start()
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        remaining = {tp for tp in parts if end[tp] > 0}
        while remaining:
            fetched = await consumer.getmany(*remaining, timeout_ms=1000, max_records=batch)
            out: list[Envelope] = []
            records = skipped = 0
            for tp, msgs in fetched.items():
                for m in msgs:
                    if m.offset >= end[tp]:
                        continue
                    records += 1
                    try:
                        env = codec.decode(m.value)
                        env.event()
                        out.append(env)
                    except ContractError:
                        skipped += 1  # dead-lettered when it was live; never part of the read model
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
            yield out, records, skipped
    finally:
        await consumer.stop()


async def _partitions(bootstrap: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([t.name for t in topics.ALL])
    finally:
        await admin.close()
    return [TopicPartition(d["topic"], p["partition"]) for d in described if not d.get("error_code")
            for p in d.get("partitions", [])]


async def rebuild(dsn: str, bootstrap: str) -> RebuildStats:
    """Streams: memory stays bounded by one batch of events and one run, whatever the topics hold."""
    t0 = time.perf_counter()
    stats = RebuildStats()
    # One long transaction that reads the topics while it is open: no statement or idle limit applies.
    pool = await open_database(dsn, timeouts=db.UNLIMITED)
    model = ReadModel(pool)
    try:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(f"TRUNCATE {', '.join(READ_MODEL_TABLES)}")
            await conn.execute("CREATE TEMP TABLE incoming (LIKE event_archive INCLUDING DEFAULTS) ON COMMIT DROP")
            async for envelopes, records, skipped in read_batches(bootstrap):
                stats.records += records
                stats.skipped += skipped
                await _archive(conn, envelopes)
            stats.events = await conn.fetchval("SELECT count(*) FROM event_archive")
            await _drafts_and_versions(conn, model)
            stats.runs = await _runs(conn, model)
            offers = await conn.fetch("""SELECT publisher_id, offer_id, max(occurred_at) AS at FROM event_archive
                                         GROUP BY publisher_id, offer_id""")
            for r in offers:
                await model._refresh_offer(conn, r["publisher_id"], r["offer_id"], r["at"])
            stats.offers = len(offers)
    finally:
        await pool.close()
    stats.seconds = time.perf_counter() - t0
    return stats


async def _archive(conn: asyncpg.Connection, envelopes: list[Envelope]) -> None:
    """COPY into a staging table, then keep the first copy of each event id (redeliveries repeat ids)."""
    await conn.execute("TRUNCATE incoming")
    await conn.copy_records_to_table(
        "incoming",
        columns=["event_id", "event_type", "schema_version", "offer_id", "publisher_id", "run_id", "occurred_at",
                 "producer", "correlation_id", "causation_id", "payload"],
        records=[(e.event_id, e.event_type, e.schema_version, e.offer_id, e.publisher_id, e.run_id, e.occurred_at,
                  e.producer, e.correlation_id, e.causation_id, json.dumps(e.payload)) for e in envelopes],
    )
    await conn.execute("INSERT INTO event_archive SELECT * FROM incoming ON CONFLICT (event_id) DO NOTHING")


async def _drafts_and_versions(conn: asyncpg.Connection, model: ReadModel) -> None:
    """The same per-event rules as the live projection; both are order-independent, so any order will do."""
    rows = await conn.fetch("SELECT * FROM event_archive WHERE event_type = ANY($1::text[])",
                            [OfferDraftSaved.event_type, PublishRequested.event_type])
    for row in rows:
        e = row_to_envelope(row)
        if e.event_type == OfferDraftSaved.event_type:
            await model._apply_draft(conn, e)
        else:
            await model._apply_version(conn, e)


async def _runs(conn: asyncpg.Connection, model: ReadModel) -> int:
    runs = 0
    current: str | None = None
    group: list[Envelope] = []
    async for row in conn.cursor("SELECT * FROM event_archive WHERE run_id IS NOT NULL ORDER BY run_id",
                                 prefetch=5000):
        if row["run_id"] != current and group:
            await model._refresh_run(conn, current or "", group)
            runs += 1
            group = []
        current = row["run_id"]
        group.append(row_to_envelope(row))
    if group:
        await model._refresh_run(conn, current or "", group)
        runs += 1
    return runs


async def projection_is_running(bootstrap: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_consumer_groups([PROJECTION_GROUP])
    finally:
        await admin.close()
    for group in described:
        for g in getattr(group, "groups", [group]):
            members = g[5] if isinstance(g, tuple) else getattr(g, "members", [])
            if members:
                return True
    return False
