"""The projection's writes to the read model, in batches: the live projection writes batches of one, the
rebuild from the topics writes thousands at a time. Every function runs on the caller's connection and
transaction; the batch forms need a transaction (their staging tables last until it commits)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg
import orjson

from offerflow_contract.envelope import Envelope, Event
from offerflow_contract.events import OfferDraftSaved, PublishRequested
from offerflow_status_api import status_document as rendering
from offerflow_status_api.projection import state as run_state
from offerflow_status_api.projection.fold import view_of
from offerflow_status_api.projection.state import RunState
from offerflow_status_api.projection.view import RunView

ARCHIVE_COLUMNS = ["event_id", "event_type", "schema_version", "offer_id", "publisher_id", "run_id", "occurred_at",
                   "producer", "correlation_id", "causation_id", "payload"]
_RUN_COLUMNS = ["run_id", "publisher_id", "offer_id", "offer_version", "status", "submission_type", "current_step",
                "requested_at", "finished_at", "document", "preview_open", "went_live", "updated_at"]

_DRAFT = """
INSERT INTO offers (publisher_id, offer_id, offer_type_id, display_text, draft_version, definition, changed_time)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
ON CONFLICT (publisher_id, offer_id) DO UPDATE SET
  offer_type_id = EXCLUDED.offer_type_id, display_text = EXCLUDED.display_text,
  draft_version = EXCLUDED.draft_version, definition = EXCLUDED.definition,
  changed_time = GREATEST(offers.changed_time, EXCLUDED.changed_time)
WHERE offers.draft_version < EXCLUDED.draft_version
"""
_VERSION = """
INSERT INTO offer_versions (publisher_id, offer_id, version, run_id, definition, created_at)
VALUES ($1, $2, $3, $4, $5::jsonb, $6) ON CONFLICT DO NOTHING
"""
_ONE_STATE = """
INSERT INTO run_states (run_id, state) VALUES ($1, $2::jsonb)
ON CONFLICT (run_id) DO UPDATE SET state = EXCLUDED.state
"""
_RUN_UPSERT = """
ON CONFLICT (run_id) DO UPDATE SET offer_version = EXCLUDED.offer_version,
  status = EXCLUDED.status, submission_type = EXCLUDED.submission_type,
  current_step = EXCLUDED.current_step, requested_at = EXCLUDED.requested_at,
  finished_at = EXCLUDED.finished_at, document = EXCLUDED.document,
  preview_open = EXCLUDED.preview_open, went_live = EXCLUDED.went_live,
  updated_at = EXCLUDED.updated_at
"""
# The state and the run row in one round trip.
_ONE_RUN = f"""
WITH state AS (INSERT INTO run_states (run_id, state) VALUES ($1, $14::jsonb)
               ON CONFLICT (run_id) DO UPDATE SET state = EXCLUDED.state)
INSERT INTO runs ({", ".join(_RUN_COLUMNS)}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13)
{_RUN_UPSERT}
"""
_STATES = """
INSERT INTO run_states (run_id, state) SELECT run_id, state FROM incoming_states
ON CONFLICT (run_id) DO UPDATE SET state = EXCLUDED.state
"""
_RUNS = f"""
INSERT INTO runs ({", ".join(_RUN_COLUMNS)}) SELECT {", ".join(_RUN_COLUMNS)} FROM incoming_runs
{_RUN_UPSERT}
"""
# The offer shows its newest run (highest offer version): an older run never overrides it. ``changed_time`` is
# the time of the offer's latest event, so a rebuild from the topics gives the same row. The step's start is
# read from the stored document where it is (no round trip through Python).
_OFFERS = """
WITH touched AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS t(publisher_id, offer_id, at)
), latest AS (
  SELECT t.publisher_id, t.offer_id, t.at, r.run_id, r.status, r.current_step, r.offer_version,
         (SELECT s->>'startedAt' FROM jsonb_array_elements(r.document->'steps') s
          WHERE s->>'id' = r.current_step LIMIT 1)::timestamptz AS since
  FROM touched t LEFT JOIN LATERAL (
    SELECT run_id, status, current_step, offer_version, document FROM runs
    WHERE runs.publisher_id = t.publisher_id AND runs.offer_id = t.offer_id
    ORDER BY offer_version DESC NULLS LAST LIMIT 1) r ON true
)
INSERT INTO offers AS o (publisher_id, offer_id, status, current_run_id, current_step, step_since, offer_version,
                         changed_time)
SELECT publisher_id, offer_id, COALESCE(status, 'neverPublished'), run_id, current_step, since,
       COALESCE(offer_version, 0), at FROM latest
ON CONFLICT (publisher_id, offer_id) DO UPDATE SET
  status = CASE WHEN EXCLUDED.current_run_id IS NULL THEN o.status ELSE EXCLUDED.status END,
  current_run_id = COALESCE(EXCLUDED.current_run_id, o.current_run_id),
  current_step = CASE WHEN EXCLUDED.current_run_id IS NULL THEN o.current_step ELSE EXCLUDED.current_step END,
  step_since = CASE WHEN EXCLUDED.current_run_id IS NULL THEN o.step_since ELSE EXCLUDED.step_since END,
  offer_version = CASE WHEN EXCLUDED.current_run_id IS NULL THEN o.offer_version ELSE EXCLUDED.offer_version END,
  changed_time = GREATEST(o.changed_time, EXCLUDED.changed_time)
"""


def dumps(value: object) -> str:
    """JSON text for a jsonb column. orjson is several times faster than ``json`` on the rebuild's millions of
    payloads, states and documents; what it refuses (integers beyond 64 bits, lone surrogates) goes through
    ``json`` as before, so every value that was stored still is."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


async def archive(conn: asyncpg.Connection, envelopes: Sequence[Envelope], *,
                  seen: set[int] | None = None) -> set[uuid.UUID]:
    """Keep the first copy of each event id (redeliveries repeat ids, and a re-emitted event has a later
    ``occurred_at``: the live projection keeps the first, so must a rebuild). Returns the ids archived now, i.e.
    not seen in an earlier batch.

    Without ``seen``, the table's primary key decides: COPY into a staging table, then insert what is new.
    ``seen`` is for a bulk load into a table without its indexes (the rebuild builds them once at the end): it
    holds the ``int`` of every event id archived so far; duplicates are dropped here, the rest is copied
    straight into the table and added to ``seen``."""
    first: dict[uuid.UUID, Envelope] = {}
    if seen is not None:
        for e in envelopes:
            if e.event_id.int not in seen:
                seen.add(e.event_id.int)
                first[e.event_id] = e
        await conn.copy_records_to_table("event_archive", columns=ARCHIVE_COLUMNS, records=_archive_rows(first))
        return set(first)
    for e in envelopes:
        first.setdefault(e.event_id, e)
    await _staging(conn, "incoming_events", "event_archive")
    await conn.copy_records_to_table("incoming_events", columns=ARCHIVE_COLUMNS, records=_archive_rows(first))
    rows = await conn.fetch("INSERT INTO event_archive SELECT * FROM incoming_events ON CONFLICT (event_id) DO NOTHING "
                            "RETURNING event_id")
    return {r["event_id"] for r in rows}


def _archive_rows(envelopes: dict[uuid.UUID, Envelope]) -> list[tuple[object, ...]]:
    return [(e.event_id, e.event_type, e.schema_version, e.offer_id, e.publisher_id, e.run_id, e.occurred_at,
             e.producer, e.correlation_id, e.causation_id, dumps(e.payload)) for e in envelopes.values()]


async def drafts(conn: asyncpg.Connection, events: Sequence[tuple[Envelope, OfferDraftSaved]]) -> None:
    """The offer's draft: the highest draft version wins, whatever the order."""
    if events:
        await conn.executemany(_DRAFT, [
            (env.publisher_id, env.offer_id, ev.offer_type_id, str(ev.definition.get("displayText") or env.offer_id),
             ev.draft_version, json.dumps(ev.definition), env.occurred_at) for env, ev in events])


async def versions(conn: asyncpg.Connection, events: Sequence[tuple[Envelope, PublishRequested]]) -> None:
    """The definition of every published version (the first copy of each is kept)."""
    if events:
        await conn.executemany(_VERSION, [
            (env.publisher_id, env.offer_id, ev.offer.offer_version, env.run_id, json.dumps(ev.offer.definition),
             env.occurred_at) for env, ev in events])


def offer_parts(env: Envelope, event: Event) -> tuple[list[tuple[Envelope, OfferDraftSaved]],
                                                       list[tuple[Envelope, PublishRequested]]]:
    """``(env, event)`` as the draft or version it writes, if any."""
    if isinstance(event, OfferDraftSaved):
        return [(env, event)], []
    if isinstance(event, PublishRequested):
        return [], [(env, event)]
    return [], []


async def load_states(conn: asyncpg.Connection, run_ids: Sequence[str]) -> dict[str, RunState]:
    rows = await conn.fetch("SELECT state FROM run_states WHERE run_id = ANY($1::text[])", list(run_ids))
    out = [run_state.from_json(orjson.loads(r["state"])) for r in rows]
    return {s.run_id: s for s in out}


def _run_row(view: RunView, state: RunState) -> tuple[object, ...]:
    """The run's row: its view's columns and the status document rendered from it."""
    doc = rendering.status_document(view)
    doc["cancellationRequestState"] = view.cancellation_request_state
    return (view.run_id, view.publisher_id, view.offer_id, view.offer_version, view.status.value,
            view.submission_type, view.current_step().id.value, view.requested_at, view.finished_at,
            dumps(doc), view.preview_open, view.went_live, datetime.fromisoformat(state.last_at))


async def write_run(conn: asyncpg.Connection, state: RunState) -> RunView | None:
    """Store one run's state and, once its publish request has arrived, its row; returns its view then."""
    view = view_of(state)
    stored = dumps(run_state.to_json(state))
    if not view.requested:
        await conn.execute(_ONE_STATE, state.run_id, stored)
        return None
    await conn.execute(_ONE_RUN, *_run_row(view, state), stored)
    return view


async def write_runs(conn: asyncpg.Connection, states: Sequence[RunState], *, new: bool = False) -> None:
    """``write_run`` for many runs at once. ``new``: none of them is stored yet, so the rows are copied
    straight into the tables instead of through staging tables and an upsert."""
    states_table, runs_table = ("run_states", "runs") if new else ("incoming_states", "incoming_runs")
    if not new:
        await _staging(conn, states_table, "run_states")
    await conn.copy_records_to_table(states_table, columns=["run_id", "state"], records=[
        (s.run_id, dumps(run_state.to_json(s))) for s in states])
    if not new:
        await conn.execute(_STATES)
    rows = [_run_row(v, s) for s in states if (v := view_of(s)).requested]
    if rows:
        if not new:
            await _staging(conn, runs_table, "runs")
        await conn.copy_records_to_table(runs_table, columns=_RUN_COLUMNS, records=rows)
        if not new:
            await conn.execute(_RUNS)


async def refresh_offers(conn: asyncpg.Connection, touched: Sequence[tuple[str, str, datetime]]) -> None:
    """Bring each (publisher, offer, time of its latest event) up to date with its newest run."""
    if touched:
        await conn.execute(_OFFERS, [t[0] for t in touched], [t[1] for t in touched], [t[2] for t in touched])


async def _staging(conn: asyncpg.Connection, name: str, like: str) -> None:
    # Dropped at commit: the staging tables never outlive the transaction that fills them.
    await conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} (LIKE {like} INCLUDING DEFAULTS) ON COMMIT DROP;"
                       f"TRUNCATE {name}")
