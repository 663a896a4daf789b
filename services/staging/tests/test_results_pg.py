"""The PostgreSQL result store against the private database of the test run (skipped without one)."""

from __future__ import annotations

import os
import uuid

import asyncpg
import pytest

from offerflow_contract.events import OfferSnapshot, StagingPassed, StagingStarted
from offerflow_shared import db
from offerflow_staging.adapters.fake import report
from offerflow_staging.adapters.results import Emitted, PostgresResultStore, RunKey, StoredResult
from offerflow_staging.bootstrap import MIGRATIONS

DSN = os.environ.get("OFFERFLOW_DATABASE_DSN")
# The migrations run as the database's owner, as the service runs them (with-infra sets both DSNs).
OWNER_DSN = os.environ.get("OFFERFLOW_DATABASE_MIGRATION_DSN") or DSN
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not DSN, reason="needs OFFERFLOW_DATABASE_DSN (run under deploy/dev/stack.py)")]


async def test_results_are_kept_by_input_and_come_back_as_emitted() -> None:
    assert DSN is not None
    owner = await asyncpg.connect(OWNER_DSN)
    try:
        await db.migrate(owner, "staging", MIGRATIONS)
    finally:
        await owner.close()
    pool = await db.create_pool(DSN)
    try:
        async with pool.acquire() as conn:
            assert await db.migrate(conn, "staging", MIGRATIONS) == []  # up to date for the services' role
        store = PostgresResultStore(pool)
        key = RunKey(str(uuid.uuid4()), "contoso", "web-server", "run-1")
        assert await store.find(key.cause_event_id) is None
        offer = OfferSnapshot(offer_version=1, definition={"offer": {}}, notification_emails=["a@b.example"])
        events = [Emitted(StagingStarted(message="Booting 1 replica(s)")),
                  Emitted(StagingPassed(offer=offer, disks=[], replicas=[],
                                        reports=[report("gold", "1.0.0", "eastus", "https://s/b/k", warning="agent")]),
                          "x")]
        await store.save(key, StoredResult("done", events))
        await store.save(key, StoredResult("canceled", []))  # a later save of the same input changes nothing
        found = await store.find(key.cause_event_id)
        assert found is not None and found.outcome == "done"
        assert found.events == events
    finally:
        await pool.close()
