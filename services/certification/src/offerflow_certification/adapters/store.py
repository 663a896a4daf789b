"""Port for stored certification reports: per run (what the run produced) and by image for reuse.

Reuse is per publisher: the lookup key starts with the publisher id, so a report made for one publisher is never
handed to another (not even as "already certified", which would tell them someone else published those bytes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from offerflow_contract.events import DiskReport


@dataclass(frozen=True)
class StoredReport:
    run_id: str
    report: DiskReport


class ReportStore(Protocol):
    async def find(self, publisher_id: str, sha256: str, certifier_version: str,
                   profile: str) -> StoredReport | None:
        """A report made earlier for this publisher, for the same bytes, certifier and kind of disk."""
        ...

    async def save(self, *, publisher_id: str, offer_id: str, run_id: str, profile: str,
                   report: DiskReport) -> None:
        """Keep the report of this run; a freshly made one (not reused) also becomes reusable. Idempotent."""
        ...


@dataclass
class MemoryReportStore:
    reusable: dict[tuple[str, str, str, str], StoredReport] = field(default_factory=dict)
    runs: dict[tuple[str, str, str, str], DiskReport] = field(default_factory=dict)

    async def find(self, publisher_id: str, sha256: str, certifier_version: str,
                   profile: str) -> StoredReport | None:
        return self.reusable.get((publisher_id, sha256, certifier_version, profile))

    async def save(self, *, publisher_id: str, offer_id: str, run_id: str, profile: str,
                   report: DiskReport) -> None:
        self.runs[(run_id, report.plan_id, report.image_version, report.disk)] = report
        if report.sha256 and report.reused_from_run is None:
            self.reusable.setdefault((publisher_id, report.sha256, report.certifier_version, profile),
                                     StoredReport(run_id, report))
