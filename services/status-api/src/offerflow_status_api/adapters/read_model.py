"""PostgreSQL read model written by the projection and read by the API."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from offerflow_contract.envelope import Envelope
from offerflow_contract.events import OfferDraftSaved, PublishRequested
from offerflow_status_api.rules import RunView, fold_run, status_document

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

    # --- projection side ------------------------------------------------------------------------

    async def apply(self, env: Envelope) -> bool:
        """Archive ``env`` and bring the views it touches up to date; False if it was a duplicate."""
        async with self.pool.acquire() as conn, conn.transaction():
            # One writer per offer at a time, whatever the number of projection workers.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"{env.publisher_id}/{env.offer_id}")
            status = await conn.execute(
                _ARCHIVE, env.event_id, env.event_type, env.schema_version, env.offer_id, env.publisher_id,
                env.run_id, env.occurred_at, env.producer, env.correlation_id, env.causation_id,
                json.dumps(env.payload),
            )
            if status.endswith(" 0"):
                return False
            if env.event_type == OfferDraftSaved.event_type:
                await self._apply_draft(conn, env)
            elif env.event_type == PublishRequested.event_type:
                await self._apply_version(conn, env)
            if env.run_id:
                await self._refresh_run(conn, env.run_id)
            await self._refresh_offer(conn, env.publisher_id, env.offer_id, env.occurred_at)
            return True

    async def _apply_draft(self, conn: asyncpg.Connection, env: Envelope) -> None:
        ev = env.event()
        assert isinstance(ev, OfferDraftSaved)
        await conn.execute(
            """INSERT INTO offers (publisher_id, offer_id, offer_type_id, display_text, draft_version, definition,
                                   changed_time)
               VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
               ON CONFLICT (publisher_id, offer_id) DO UPDATE SET
                 offer_type_id = EXCLUDED.offer_type_id, display_text = EXCLUDED.display_text,
                 draft_version = EXCLUDED.draft_version, definition = EXCLUDED.definition,
                 changed_time = GREATEST(offers.changed_time, EXCLUDED.changed_time)
               WHERE offers.draft_version < EXCLUDED.draft_version""",
            env.publisher_id, env.offer_id, ev.offer_type_id, str(ev.definition.get("displayText") or env.offer_id),
            ev.draft_version, json.dumps(ev.definition), env.occurred_at,
        )

    async def _apply_version(self, conn: asyncpg.Connection, env: Envelope) -> None:
        ev = env.event()
        assert isinstance(ev, PublishRequested)
        await conn.execute(
            """INSERT INTO offer_versions (publisher_id, offer_id, version, run_id, definition, created_at)
               VALUES ($1, $2, $3, $4, $5::jsonb, $6) ON CONFLICT DO NOTHING""",
            env.publisher_id, env.offer_id, ev.offer.offer_version, env.run_id, json.dumps(ev.offer.definition),
            env.occurred_at)

    async def _refresh_run(self, conn: asyncpg.Connection, run_id: str,
                           envelopes: list[Envelope] | None = None) -> None:
        if envelopes is None:
            rows = await conn.fetch("SELECT * FROM event_archive WHERE run_id = $1", run_id)
            envelopes = [row_to_envelope(r) for r in rows]
        view = fold_run(run_id, envelopes)
        last_event_at = max(e.occurred_at for e in envelopes)
        if not view.requested:
            return  # its PublishRequested has not arrived yet; the archive keeps the event until it does
        doc = status_document(view)
        doc["cancellationRequestState"] = view.cancellation_request_state
        await conn.execute(
            """INSERT INTO runs (run_id, publisher_id, offer_id, offer_version, status, submission_type,
                                 current_step, requested_at, finished_at, document, preview_open, went_live,
                                 updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13)
               ON CONFLICT (run_id) DO UPDATE SET offer_version = EXCLUDED.offer_version,
                 status = EXCLUDED.status, submission_type = EXCLUDED.submission_type,
                 current_step = EXCLUDED.current_step, requested_at = EXCLUDED.requested_at,
                 finished_at = EXCLUDED.finished_at, document = EXCLUDED.document,
                 preview_open = EXCLUDED.preview_open, went_live = EXCLUDED.went_live,
                 updated_at = EXCLUDED.updated_at""",
            run_id, view.publisher_id, view.offer_id, view.offer_version, view.status.value,
            view.submission_type, view.current_step().id.value, view.requested_at, view.finished_at,
            json.dumps(doc), view.preview_open, view.went_live, last_event_at,
        )

    async def _refresh_offer(self, conn: asyncpg.Connection, publisher_id: str, offer_id: str,
                             at: datetime) -> None:
        """The offer shows its newest run (highest offer version): an older run never overrides it.

        ``changed_time`` is the time of the offer's latest event, so a rebuild from the topics gives the same row.
        """
        run = await conn.fetchrow(
            """SELECT run_id, status, current_step, offer_version, document FROM runs
               WHERE publisher_id = $1 AND offer_id = $2 ORDER BY offer_version DESC NULLS LAST LIMIT 1""",
            publisher_id, offer_id,
        )
        if run is None:
            await conn.execute(
                """INSERT INTO offers (publisher_id, offer_id, changed_time) VALUES ($1, $2, $3)
                   ON CONFLICT (publisher_id, offer_id) DO UPDATE
                   SET changed_time = GREATEST(offers.changed_time, EXCLUDED.changed_time)""",
                publisher_id, offer_id, at)
            return
        doc = json.loads(run["document"])
        step = next((s for s in doc["steps"] if s["id"] == run["current_step"]), None)
        since = (step or {}).get("startedAt")
        await conn.execute(
            """INSERT INTO offers (publisher_id, offer_id, status, current_run_id, current_step, step_since,
                                   offer_version, changed_time)
               VALUES ($1, $2, $3, $4, $5, $6::text::timestamptz, $7, $8)
               ON CONFLICT (publisher_id, offer_id) DO UPDATE SET status = EXCLUDED.status,
                 current_run_id = EXCLUDED.current_run_id, current_step = EXCLUDED.current_step,
                 step_since = EXCLUDED.step_since, offer_version = EXCLUDED.offer_version,
                 changed_time = GREATEST(offers.changed_time, EXCLUDED.changed_time)""",
            publisher_id, offer_id, run["status"], run["run_id"], run["current_step"], since,
            run["offer_version"] or 0, at,
        )

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
        """The newest run, folded from the archive (the same function the projection uses)."""
        r = await self.pool.fetchrow(
            """SELECT run_id FROM runs WHERE publisher_id = $1 AND offer_id = $2
               ORDER BY offer_version DESC NULLS LAST LIMIT 1""", publisher_id, offer_id)
        if r is None:
            return None
        return await self.fold(r["run_id"])

    async def fold(self, run_id: str) -> RunView | None:
        rows = await self.pool.fetch("SELECT * FROM event_archive WHERE run_id = $1", run_id)
        if not rows:
            return None
        view = fold_run(run_id, [row_to_envelope(r) for r in rows])
        return view if view.requested else None

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
