"""The staging reports as the API and the status document show them: camelCase, without the console text (the
console has its own route, as text). Pure, no I/O."""

from __future__ import annotations

import json
from typing import Any

from offerflow_contract.events import StagingReport


def check_shape(report: StagingReport) -> list[dict[str, Any]]:
    return [{"checkId": c.check_id, "name": c.name, "result": c.result, "actual": c.actual,
             "required": c.required, "seconds": c.seconds} for c in report.checks]


def report_shape(report: StagingReport) -> dict[str, Any]:
    """One plan's report as ``GET …/operations/{id}/staging`` answers it."""
    return {"planId": report.plan_id, "imageVersion": report.image_version, "region": report.region,
            "location": report.location, "accelerator": report.accelerator, "TestResult": report.result,
            "summary": report.summary, "firstMissing": report.first_missing, "seconds": report.seconds,
            "consoleTruncated": report.console_truncated, "hasConsole": bool(report.console),
            "checks": check_shape(report)}


def step_details(reports: list[StagingReport]) -> str:
    """What the staging step of the status document adds (``stagingReports``), as the JSON text the fold keeps.

    Smaller than the API's report: the status document is sent on every change of the run, so the console and
    where the replica lives stay in the staging route.
    """
    shaped = [{"planId": r.plan_id, "imageVersion": r.image_version, "result": r.result, "summary": r.summary,
               "firstMissing": r.first_missing, "seconds": r.seconds, "checks": check_shape(r)} for r in reports]
    return json.dumps({"stagingReports": shaped}, sort_keys=True, separators=(",", ":"))


def console_of(reports: list[StagingReport], plan: str | None) -> StagingReport | None:
    """The report whose console is asked for: that plan's, or the only plan's when none is named."""
    if plan is None:
        return reports[0] if len(reports) == 1 else None
    return next((r for r in reports if r.plan_id == plan), None)
