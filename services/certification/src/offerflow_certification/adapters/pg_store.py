"""The report store in PostgreSQL (tables ``certification_reports`` and ``certification_run_reports``)."""

from __future__ import annotations

import asyncpg

from offerflow_certification.adapters.store import StoredReport
from offerflow_contract.events import DiskReport

# The publisher id leads the key: reuse never crosses publishers (see adapters/store.py).
_FIND = """SELECT run_id, report FROM certification_reports
           WHERE publisher_id = $1 AND sha256 = $2 AND certifier_version = $3 AND profile = $4"""
_SAVE_RUN = """
INSERT INTO certification_run_reports (run_id, plan_id, image_version, disk, offer_id, sha256, report, publisher_id)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)
ON CONFLICT (run_id, plan_id, image_version, disk) DO UPDATE SET report = EXCLUDED.report, sha256 = EXCLUDED.sha256
"""
_SAVE_REUSABLE = """
INSERT INTO certification_reports (publisher_id, sha256, certifier_version, profile, run_id, offer_id, report)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
ON CONFLICT (publisher_id, sha256, certifier_version, profile) DO NOTHING
"""


class PostgresReportStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def find(self, publisher_id: str, sha256: str, certifier_version: str,
                   profile: str) -> StoredReport | None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(_FIND, publisher_id, sha256, certifier_version, profile)
        if row is None:
            return None
        return StoredReport(row["run_id"], DiskReport.model_validate_json(row["report"]))

    async def save(self, *, publisher_id: str, offer_id: str, run_id: str, profile: str,
                   report: DiskReport) -> None:
        body = report.model_dump_json()
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_SAVE_RUN, run_id, report.plan_id, report.image_version, report.disk, offer_id,
                               report.sha256, body, publisher_id)
            if report.sha256 and report.reused_from_run is None:
                await conn.execute(_SAVE_REUSABLE, publisher_id, report.sha256, report.certifier_version,
                                   profile, run_id, offer_id, body)
