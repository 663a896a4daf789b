"""Rebuild the read model from the topics: Kafka is the source of truth.

Drops the projection's tables, reads every topic of the contract from the beginning (no consumer group),
archives every event in bulk and folds each into its run's state with the same ``apply`` the live projection
uses, then writes runs and offers through the read model's batch API, so the result is the same read model.
The live projection must be stopped meanwhile.
"""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from offerflow_contract import codec, topics
from offerflow_contract.envelope import ContractError, Envelope, Event
from offerflow_shared import db
from offerflow_status_api.adapters.read_model import ReadModel
from offerflow_status_api.bootstrap import open_database
from offerflow_status_api.projection.fold import apply, new_state
from offerflow_status_api.projection.state import RunState

READ_MODEL_TABLES = ("event_archive", "run_states", "runs", "offers", "offer_versions")
RUNS_IN_MEMORY = 50_000  # about 10 kB each (~500 MB); a flush before the end costs (runs written twice)
# The archive is loaded without its indexes, which are built once at the end (a third of the cost of keeping
# them up to date row by row): duplicates are found in memory meanwhile, about 78 bytes per event id (~310 MB).
# Past that many events the indexes are built there and then, and the primary key finds the rest.
IDS_IN_MEMORY = 4_000_000
PROJECTION_GROUP = "offerflow-status-projection"


@dataclass
class RebuildStats:
    records: int = 0
    events: int = 0
    skipped: int = 0
    runs: int = 0
    offers: int = 0
    seconds: float = 0.0


Parsed = list[tuple[Envelope, Event]]


def decode(raw: bytes | None) -> tuple[Envelope, Event]:
    """A record as the codec reads it, and its typed payload."""
    env = codec.decode(raw)
    return env, env.event()


def decode_fast(raw: bytes | None) -> tuple[Envelope, Event]:
    """``decode``, about a third faster: pydantic parses the JSON straight into the envelope, without the
    intermediate dict. What it refuses goes through the codec, which decides (and says why) exactly as the live
    projection's consumer does; what it accepts, the codec accepts the same way (same model, same values)."""
    try:
        env = Envelope.model_validate_json(raw)  # type: ignore[arg-type]
    except Exception:  # whatever the refusal: the codec's verdict is the one that counts
        env = codec.decode(raw)
    return env, env.event()


async def read_batches(bootstrap: str, batch: int = 20_000, *,
                       parse: Callable[[bytes | None], tuple[Envelope, Event]] = decode,
                       ) -> AsyncIterator[tuple[Parsed, int, int]]:
    """Every decodable event of every topic, parsed, up to the end offsets taken at the start, in batches."""
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
            out: Parsed = []
            records = skipped = 0
            for tp, msgs in fetched.items():
                for m in msgs:
                    if m.offset >= end[tp]:
                        continue
                    records += 1
                    try:
                        out.append(parse(m.value))
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


async def rebuild(dsn: str, bootstrap: str, *, runs_in_memory: int = RUNS_IN_MEMORY,
                  ids_in_memory: int = IDS_IN_MEMORY) -> RebuildStats:
    """One pass over the topics: each batch is archived, and its events are applied to the states of their
    runs in memory, the same ``apply`` the live projection uses. States are written (joined with what an
    earlier flush stored) when ``runs_in_memory`` runs are held and at the end, so memory stays bounded by
    one batch of events, that many runs and ``ids_in_memory`` event ids, whatever the topics hold."""
    t0 = time.perf_counter()
    stats = RebuildStats()
    # One long transaction that reads the topics while it is open: no statement or idle limit applies.
    pool = await open_database(dsn, timeouts=db.UNLIMITED)
    model = ReadModel(pool)
    states: dict[str, RunState] = {}
    offers: dict[tuple[str, str], datetime] = {}
    run_ids: set[str] = set()
    # The states held grow to many objects that live until a flush: the cyclic GC's collections walked them
    # all again and again (half the rebuild's time). It is off meanwhile; states and events hold no cycles
    # (reference counting frees them), so only stray cycles of the libraries wait for the collection at the end.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(f"TRUNCATE {', '.join(READ_MODEL_TABLES)}")
            rebuild_indexes = await _drop_indexes(conn, "event_archive")
            seen: set[int] | None = set()
            async for events, records, skipped in read_batches(bootstrap, parse=decode_fast):
                stats.records += records
                stats.skipped += skipped
                if seen is not None and len(seen) + len(events) > ids_in_memory:
                    await _run(conn, rebuild_indexes)
                    seen = None
                for env, event in await model.archive_many(conn, events, seen=seen):
                    key = (env.publisher_id, env.offer_id)
                    if key not in offers or offers[key] < env.occurred_at:
                        offers[key] = env.occurred_at
                    if env.run_id:
                        state = states.get(env.run_id) or new_state(env)
                        states[env.run_id] = apply(state, env, event)
                if len(states) >= runs_in_memory:
                    await model.merge_runs(conn, list(states.values()), none_stored=not run_ids)
                    run_ids.update(states)
                    states.clear()
            await model.merge_runs(conn, list(states.values()), none_stored=not run_ids)
            run_ids.update(states)
            if seen is not None:
                await _run(conn, rebuild_indexes)
            stats.events = await conn.fetchval("SELECT count(*) FROM event_archive")
            stats.runs = len(run_ids)
            await model.refresh_offers(conn, [(p, o, at) for (p, o), at in offers.items()])
            stats.offers = len(offers)
    finally:
        if gc_was_enabled:
            gc.enable()
        gc.collect()
        await pool.close()
    stats.seconds = time.perf_counter() - t0
    return stats


async def _drop_indexes(conn: asyncpg.Connection, table: str) -> list[str]:
    """Drop ``table``'s indexes, its primary key and unique constraints included (inside the rebuild's
    transaction: a failed rebuild gets them back with its rollback); returns the statements that make them
    again, as the migrations defined them (read from the catalog, so no definition is written twice)."""
    rows = await conn.fetch(
        """SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname) AS drop,
                  format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname,
                         pg_get_constraintdef(oid)) AS make
           FROM pg_constraint WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'x')
           UNION ALL
           SELECT format('DROP INDEX %s', indexrelid::regclass), pg_get_indexdef(indexrelid)
           FROM pg_index i WHERE indrelid = $1::regclass
             AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)""", table)
    await _run(conn, [r["drop"] for r in rows])
    return [r["make"] for r in rows]


async def _run(conn: asyncpg.Connection, statements: list[str]) -> None:
    for statement in statements:
        await conn.execute(statement)


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
