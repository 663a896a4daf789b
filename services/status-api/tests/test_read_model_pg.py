"""The read model against a real PostgreSQL (OFFERFLOW_DATABASE_DSN); skipped without one.

Each event applied to the stored state gives the rows a fold of the whole run gives, in any arrival order;
the batch API the rebuild uses gives the same rows as the live path.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from offerflow_contract.envelope import Envelope, Event, wrap
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
from offerflow_status_api.adapters.read_model import ReadModel
from offerflow_status_api.bootstrap import MIGRATIONS
from offerflow_status_api.projection.fold import apply, fold_run, new_state
from offerflow_status_api.status_document import status_document

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.environ.get("OFFERFLOW_DATABASE_DSN"), reason="needs OFFERFLOW_DATABASE_DSN"),
]
SNAP = OfferSnapshot(offer_version=1, definition={"displayText": "Demo"}, notification_emails=["a@b.example"])
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def model() -> AsyncIterator[ReadModel]:
    # A database of its own: rows written here never reach the topics, so in the shared database they would
    # make the stack's read model differ from a rebuild of it (tests/api/test_rebuild.py).
    # The database's owner may create databases (the services' role may not), and owns the one it makes.
    dsn = os.environ.get("OFFERFLOW_DATABASE_MIGRATION_DSN") or os.environ["OFFERFLOW_DATABASE_DSN"]
    name = f"read_model_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f"CREATE DATABASE {name}")
    pool = await db.create_pool(dsn.rsplit("/", 1)[0] + f"/{name}")
    try:
        async with pool.acquire() as conn:
            await db.migrate(conn, "status-api", MIGRATIONS)
        yield ReadModel(pool)
    finally:
        await pool.close()
        await admin.execute(f"DROP DATABASE {name}")
        await admin.close()


def a_run(offer: str, run: str | None = None) -> list[Envelope]:
    """A failed run, with progress reported after the failure (it must not count)."""
    run = run or str(uuid.uuid4())
    events: list[Event] = [
        PublishRequested(offer=SNAP, requested_by="p"), ValidationStarted(), ValidationPassed(offer=SNAP),
        CertificationStarted(), CertificationProgressed(percentage=40, message="one"),
        CertificationFailed(summary="bad disk", reasons=[Reason(code="x", message="broken", field="/disk")]),
        CertificationProgressed(percentage=90, message="late")]
    return [wrap(e, offer_id=offer, publisher_id="pub-rm", run_id=run, producer="t",
                 occurred_at=T0 + timedelta(seconds=i)) for i, e in enumerate(events)]


def expected_document(envs: list[Envelope]) -> dict[str, object]:
    view = fold_run(envs[0].run_id or "", envs)
    return {**status_document(view), "cancellationRequestState": view.cancellation_request_state}


async def rows(model: ReadModel, offer: str) -> dict[str, list[dict[str, object]]]:
    out = {}
    for table in ("runs", "offers", "offer_versions"):
        found = await model.pool.fetch(f"SELECT * FROM {table} WHERE publisher_id = 'pub-rm' AND offer_id = $1",
                                       offer)
        out[table] = [{k: json.loads(v) if k in ("document", "definition") and v else v for k, v in dict(r).items()}
                      for r in found]
    return out


async def test_events_in_any_order_give_the_rows_of_the_whole_fold(model: ReadModel) -> None:
    offer = f"rm-{uuid.uuid4()}"
    envs = a_run(offer)
    arrival = envs[:]
    random.Random(3).shuffle(arrival)
    applied = [await model.apply(env) for env in arrival]
    assert all(a.new for a in applied)
    assert (await model.apply(arrival[0])).new is False  # redelivered: a duplicate
    got = await rows(model, offer)
    assert got["runs"][0]["document"] == expected_document(envs)
    assert got["runs"][0]["status"] == "failed"
    assert got["runs"][0]["updated_at"] == envs[-1].occurred_at
    assert got["offers"][0]["status"] == "failed" and got["offers"][0]["current_run_id"] == envs[0].run_id
    assert got["offers"][0]["step_since"] == T0 + timedelta(seconds=3)  # the failed step started then
    assert len(got["offer_versions"]) == 1
    view = await model.fold(envs[0].run_id or "")
    assert view is not None and status_document(view) == status_document(fold_run(envs[0].run_id or "", envs))


async def test_a_run_shows_once_its_publish_request_arrives_and_the_step_metrics_get_its_view(
        model: ReadModel) -> None:
    offer = f"rm-{uuid.uuid4()}"
    envs = a_run(offer)
    for env in envs[1:]:
        assert (await model.apply(env)).view is None
    assert (await rows(model, offer))["runs"] == []
    applied = await model.apply(envs[0])
    assert applied.view is not None and applied.view.status.value == "failed"
    assert (await rows(model, offer))["runs"][0]["document"] == expected_document(envs)


async def test_a_run_archived_before_states_were_kept_is_folded_from_the_archive_once(model: ReadModel) -> None:
    offer = f"rm-{uuid.uuid4()}"
    envs = a_run(offer)
    async with model.pool.acquire() as conn:
        for env in envs[:-1]:  # archived by an older projection: no state stored
            await conn.execute(
                """INSERT INTO event_archive (event_id, event_type, schema_version, offer_id, publisher_id, run_id,
                   occurred_at, producer, correlation_id, causation_id, payload)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)""",
                env.event_id, env.event_type, env.schema_version, env.offer_id, env.publisher_id, env.run_id,
                env.occurred_at, env.producer, env.correlation_id, env.causation_id, json.dumps(env.payload))
    await model.apply(envs[-1])
    assert (await rows(model, offer))["runs"][0]["document"] == expected_document(envs)


async def test_the_batch_api_gives_the_rows_of_the_live_path(model: ReadModel) -> None:
    live, batch = f"rm-{uuid.uuid4()}", f"rm-{uuid.uuid4()}"
    draft = OfferDraftSaved(offer_type_id="t", draft_version=1, etag='"e"', definition={"displayText": "Demo"})
    live_envs = [*a_run(live), wrap(draft, offer_id=live, publisher_id="pub-rm", run_id=None, producer="t",
                                          occurred_at=T0)]
    for env in live_envs:
        await model.apply(env)
    # The same events under other ids, written in two halves the way the rebuild flushes them.
    run = str(uuid.uuid4())
    batch_envs = [env.model_copy(update={"event_id": uuid.uuid4(), "offer_id": batch,
                                         "run_id": run if env.run_id else None}) for env in live_envs]
    async with model.pool.acquire() as conn, conn.transaction():
        for half in (batch_envs[::2], batch_envs[1::2]):
            events = [(env, env.event()) for env in half]
            await model.archive_many(conn, events)
            state = None
            for env, event in events:
                if env.run_id:
                    state = apply(state or new_state(env), env, event)
            assert state is not None
            await model.merge_runs(conn, [state])
        await model.refresh_offers(conn, [("pub-rm", batch, max(e.occurred_at for e in batch_envs))])
    want, got = await rows(model, live), await rows(model, batch)
    for table in want:
        for w, g in zip(want[table], got[table], strict=True):
            for row in (w, g):  # the ids differ by construction
                for k in ("offer_id", "run_id", "current_run_id"):
                    row.pop(k, None)
                if isinstance(row.get("document"), dict):
                    row["document"].pop("runId")  # type: ignore[union-attr]
            assert g == w, table
    assert await model.pool.fetchval("SELECT count(*) FROM event_archive WHERE offer_id = $1", batch) == 8



async def test_a_re_emitted_event_keeps_its_first_copy_and_is_folded_once_by_the_batch_api(model: ReadModel) -> None:
    offer = f"rm-{uuid.uuid4()}"
    envs = a_run(offer)
    # A stage re-emits an event after a crash: same id, later time (and so a later message order).
    again = envs[4].model_copy(update={"occurred_at": T0 + timedelta(hours=1)})
    async with model.pool.acquire() as conn, conn.transaction():
        first = await model.archive_many(conn, [(e, e.event()) for e in [*envs[:5], again]])
        second = await model.archive_many(conn, [(e, e.event()) for e in [again, *envs[5:]]])
    assert [e.event_id for e, _ in first] == [e.event_id for e in envs[:5]]
    assert first[4][0].occurred_at == T0 + timedelta(seconds=4)  # the first copy, not the re-emission
    assert [e.event_id for e, _ in second] == [e.event_id for e in envs[5:]]
    stored = await model.pool.fetchval("SELECT occurred_at FROM event_archive WHERE event_id = $1", again.event_id)
    assert stored == T0 + timedelta(seconds=4)
