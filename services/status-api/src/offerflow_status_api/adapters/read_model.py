"""PostgreSQL read model written by the projection and read by the API.

The projection side keeps, per run, the state of its fold (``run_states``) beside the rendered row (``runs``):
one event loads that state, applies itself and writes it back, without reading the run's other events.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from offerflow_contract.envelope import ContractError, Envelope, Event
from offerflow_status_api.adapters import run_writes
from offerflow_status_api.projection import state as run_state
from offerflow_status_api.projection.fold import apply, fold_state, new_state, view_of
from offerflow_status_api.projection.state import RunState
from offerflow_status_api.projection.view import Applied, RunView

_ARCHIVE = """
INSERT INTO event_archive (event_id, event_type, schema_version, offer_id, publisher_id, run_id, occurred_at,
                           producer, correlation_id, causation_id, payload)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)
ON CONFLICT (event_id) DO NOTHING
"""


def row_to_envelope(r: asyncpg.Record) -> Envelope:
    return Envelope(
        event_id=r["event_id"], event_type=r["event_type"], schema_version=r["schema_version"],
        offer_id=r["offer_id"], publisher_id=r["publisher_id"], run_id=r["run_id"],
        occurred_at=r["occurred_at"], producer=r["producer"], correlation_id=r["correlation_id"],
        causation_id=r["causation_id"], payload=json.loads(r["payload"]),
    )


class ReadModel:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # --- projection side: one event at a time ---------------------------------------------------

    async def apply(self, env: Envelope, event: Event | None = None) -> Applied:
        """Archive ``env`` and bring the views it touches up to date; ``new`` is False for a duplicate.

        ``event`` is ``env``'s payload when the caller has parsed it already.
        """
        if event is None:
            with contextlib.suppress(ContractError):  # archived for the record; it cannot change the view
                event = env.event()
        async with self.pool.acquire() as conn, conn.transaction():
            # One writer per offer at a time, whatever the number of projection workers.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"{env.publisher_id}/{env.offer_id}")
            status = await conn.execute(
                _ARCHIVE, env.event_id, env.event_type, env.schema_version, env.offer_id, env.publisher_id,
                env.run_id, env.occurred_at, env.producer, env.correlation_id, env.causation_id,
                json.dumps(env.payload),
            )
            if status.endswith(" 0"):
                return Applied(new=False)
            if event is not None:
                drafts, versions = run_writes.offer_parts(env, event)
                await run_writes.drafts(conn, drafts)
                await run_writes.versions(conn, versions)
            view = None
            if env.run_id:
                state = await self._state_before(conn, env)
                view = await run_writes.write_run(conn, apply(state, env, event))
            await run_writes.refresh_offers(conn, [(env.publisher_id, env.offer_id, env.occurred_at)])
            return Applied(new=True, view=view)

    async def _state_before(self, conn: asyncpg.Connection, env: Envelope) -> RunState:
        """The stored state of ``env``'s run, before ``env``."""
        assert env.run_id is not None
        raw = await conn.fetchval("SELECT state FROM run_states WHERE run_id = $1", env.run_id)
        if raw is not None:
            return run_state.from_json(json.loads(raw))
        # No state yet: the run's first event, or a run archived before states were kept (folded once here).
        rows = await conn.fetch("SELECT * FROM event_archive WHERE run_id = $1 AND event_id <> $2",
                                env.run_id, env.event_id)
        return fold_state(env.run_id, [row_to_envelope(r) for r in rows]) or new_state(env)

    # --- projection side: many events at once (the rebuild from the topics) ---------------------

    async def archive_many(self, conn: asyncpg.Connection, events: Sequence[tuple[Envelope, Event]], *,
                           seen: set[int] | None = None) -> list[tuple[Envelope, Event]]:
        """Archive events (a duplicate keeps the first copy) with their drafts and versions, on ``conn``'s
        open transaction; returns the events archived now, in order: like the live projection, a duplicate
        (a redelivery, a re-emission with a later time) is never folded again. ``seen``: see
        ``run_writes.archive`` (a bulk load into the archive without its indexes)."""
        fresh = await run_writes.archive(conn, [env for env, _ in events], seen=seen)
        new: list[tuple[Envelope, Event]] = []
        for env, event in events:
            if env.event_id in fresh:
                fresh.discard(env.event_id)  # the first copy in the batch only
                new.append((env, event))
        drafts, versions = [], []
        for env, event in new:
            d, v = run_writes.offer_parts(env, event)
            drafts += d
            versions += v
        await run_writes.drafts(conn, drafts)
        await run_writes.versions(conn, versions)
        return new

    async def merge_runs(self, conn: asyncpg.Connection, states: Sequence[RunState], *,
                         none_stored: bool = False) -> None:
        """Join each state with the one stored for its run, if any, and store the result. ``none_stored``: the
        caller knows no run of ``states`` is stored yet (the first write after emptying the tables)."""
        if none_stored:
            await run_writes.write_runs(conn, states, new=True)
            return
        stored = await run_writes.load_states(conn, [s.run_id for s in states])
        await run_writes.write_runs(conn, [stored[s.run_id].join(s) if s.run_id in stored else s for s in states])

    async def refresh_offers(self, conn: asyncpg.Connection, touched: Sequence[tuple[str, str, datetime]]) -> None:
        """Each (publisher, offer, time of its latest event) shows its newest run."""
        await run_writes.refresh_offers(conn, touched)

    # --- query side -----------------------------------------------------------------------------

    async def offer(self, publisher_id: str, offer_id: str) -> dict[str, Any] | None:
        r = await self.pool.fetchrow("SELECT * FROM offers WHERE publisher_id = $1 AND offer_id = $2",
                                     publisher_id, offer_id)
        return dict(r) if r else None

    async def offers(self, publisher_id: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch("SELECT * FROM offers WHERE publisher_id = $1 ORDER BY offer_id", publisher_id)
        return [dict(r) for r in rows]

    async def run_document(self, publisher_id: str, offer_id: str, run_id: str) -> dict[str, Any] | None:
        r = await self.pool.fetchrow(
            "SELECT document FROM runs WHERE publisher_id = $1 AND offer_id = $2 AND run_id = $3",
            publisher_id, offer_id, run_id)
        return json.loads(r["document"]) if r else None

    async def runs(self, publisher_id: str, offer_id: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            """SELECT run_id, offer_version, status, submission_type, current_step, requested_at, finished_at,
                      updated_at, document->>'notificationEmails' AS emails
               FROM runs WHERE publisher_id = $1 AND offer_id = $2 ORDER BY offer_version DESC""",
            publisher_id, offer_id)
        return [dict(r) for r in rows]

    async def current_run(self, publisher_id: str, offer_id: str) -> RunView | None:
        """The newest run's view (derived from its stored state, as the projection derived it)."""
        r = await self.pool.fetchrow(
            """SELECT run_id FROM runs WHERE publisher_id = $1 AND offer_id = $2
               ORDER BY offer_version DESC NULLS LAST LIMIT 1""", publisher_id, offer_id)
        if r is None:
            return None
        return await self.fold(r["run_id"])

    async def fold(self, run_id: str) -> RunView | None:
        """The run's view, once its publish request has arrived."""
        raw = await self.pool.fetchval("SELECT state FROM run_states WHERE run_id = $1", run_id)
        if raw is not None:
            state: RunState | None = run_state.from_json(json.loads(raw))
        else:  # a run archived before states were kept
            rows = await self.pool.fetch("SELECT * FROM event_archive WHERE run_id = $1", run_id)
            state = fold_state(run_id, [row_to_envelope(r) for r in rows])
        view = view_of(state) if state is not None else None
        return view if view is not None and view.requested else None

    async def version(self, publisher_id: str, offer_id: str, version: int) -> dict[str, Any] | None:
        r = await self.pool.fetchrow(
            """SELECT version, run_id, definition, created_at FROM offer_versions
               WHERE publisher_id = $1 AND offer_id = $2 AND version = $3""", publisher_id, offer_id, version)
        return {**dict(r), "definition": json.loads(r["definition"])} if r else None

    async def slot_version(self, publisher_id: str, offer_id: str, slot: str) -> int | None:
        """The version a slot shows: Preview = newest open preview, Production = newest run that went live."""
        column = {"Preview": "preview_open", "Production": "went_live"}[slot]
        version = await self.pool.fetchval(
            f"""SELECT offer_version FROM runs WHERE publisher_id = $1 AND offer_id = $2 AND {column}
                ORDER BY offer_version DESC LIMIT 1""", publisher_id, offer_id)
        return int(version) if version is not None else None

    async def run_event(self, run_id: str, event_types: tuple[str, ...]) -> Envelope | None:
        r = await self.pool.fetchrow(
            """SELECT * FROM event_archive WHERE run_id = $1 AND event_type = ANY($2::text[])
               ORDER BY occurred_at DESC LIMIT 1""", run_id, list(event_types))
        return row_to_envelope(r) if r else None

    async def history(self, publisher_id: str, offer_id: str) -> list[Envelope]:
        rows = await self.pool.fetch(
            "SELECT * FROM event_archive WHERE publisher_id = $1 AND offer_id = $2 ORDER BY occurred_at, event_id",
            publisher_id, offer_id)
        return [row_to_envelope(r) for r in rows]
