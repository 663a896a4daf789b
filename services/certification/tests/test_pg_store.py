"""The PostgreSQL report store against the private database of the test run (skipped without one)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import asyncpg
import pytest

from offerflow_certification.adapters.pg_store import PostgresReportStore
from offerflow_certification.bootstrap import MIGRATIONS
from offerflow_contract.events import DiskReport
from offerflow_contract.events import TestOutcome as Outcome
from offerflow_shared import db

DSN = os.environ.get("OFFERFLOW_DATABASE_DSN")
# The migrations run as the database's owner, as the service runs them (with-infra sets both DSNs).
OWNER_DSN = os.environ.get("OFFERFLOW_DATABASE_MIGRATION_DSN") or DSN
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not DSN, reason="needs OFFERFLOW_DATABASE_DSN (run under deploy/dev/stack.py)")]


def report(sha: str, run: str | None = None) -> DiskReport:
    test = Outcome(test_id="vhd.cookie", number=1002, test_case_name="VHD Footer Cookie", description="d",
                   result="Passed", actual_value='"conectix"', required_value='"conectix"')
    return DiskReport(plan_id="std", image_version="1.0.0", disk="os", url="file:///x.vhd", sha256=sha,
                      size_bytes=1, certifier_version="1.0.0", test_result="Pass", tests=[test],
                      reused_from_run=run)


async def test_reports_are_kept_per_run_and_reusable_by_image(tmp_path: Path) -> None:
    assert DSN is not None
    owner = await asyncpg.connect(OWNER_DSN)
    try:
        await db.migrate(owner, "certification", MIGRATIONS)
    finally:
        await owner.close()
    pool = await db.create_pool(DSN)
    try:
        async with pool.acquire() as conn:
            # Up to date: the services' role checks that without any right to create tables.
            assert await db.migrate(conn, "certification", MIGRATIONS) == []
        store = PostgresReportStore(pool)
        sha = uuid.uuid4().hex * 2
        assert await store.find("pa", sha, "1.0.0", "os") is None
        await store.save(publisher_id="pa", offer_id="o", run_id="run-1", profile="os", report=report(sha))
        await store.save(publisher_id="pa", offer_id="o", run_id="run-1", profile="os",
                         report=report(sha))  # redelivery
        await store.save(publisher_id="pa", offer_id="o", run_id="run-2", profile="os",
                         report=report(sha, run="run-1"))
        found = await store.find("pa", sha, "1.0.0", "os")
        assert found is not None and found.run_id == "run-1" and found.report == report(sha)
        assert await store.find("pa", sha, "1.0.0", "data") is None
        # Another publisher never finds the first one's report of the same bytes, and keeps its own.
        assert await store.find("pb", sha, "1.0.0", "os") is None
        await store.save(publisher_id="pb", offer_id="o", run_id="run-b", profile="os", report=report(sha))
        found_b = await store.find("pb", sha, "1.0.0", "os")
        assert found_b is not None and found_b.run_id == "run-b"
        found = await store.find("pa", sha, "1.0.0", "os")
        assert found is not None and found.run_id == "run-1"
        async with pool.acquire() as conn:
            runs = await conn.fetch("SELECT run_id FROM certification_run_reports WHERE sha256 = $1 ORDER BY 1", sha)
        assert [r["run_id"] for r in runs] == ["run-1", "run-2", "run-b"]
    finally:
        await pool.close()
