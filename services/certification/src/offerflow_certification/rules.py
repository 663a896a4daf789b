"""Pure decisions: the profile of a disk, and how test results read on the status page."""

from __future__ import annotations

from typing import Any

from offerflow_certification.image.certifier import Profile
from offerflow_contract.events import DiskReport, Reason
from offerflow_shared.offer import COREVM, DiskRef, plans

APPROVED_BASE_KEY = COREVM + "approvedBaseImage"


def profile_for(disk: DiskRef, definition: dict[str, Any]) -> Profile:
    plan = next((p for p in plans(definition) if str(p.get("planId")) == disk.plan_id), {})
    return Profile(os_disk=disk.disk == "os", approved_base=plan.get(APPROVED_BASE_KEY) is True)


def where(disk: DiskRef) -> str:
    return f"plan {disk.plan_id} version {disk.image_version} disk {disk.disk}"


def reasons_for(disk: DiskRef, report: DiskReport) -> tuple[list[Reason], list[Reason]]:
    """(errors, warnings): one reason per failed test and one warning per test that needs attention."""
    errors: list[Reason] = []
    warnings: list[Reason] = []
    for t in report.tests:
        if t.result == "Passed":
            continue
        verb = "failed" if t.result == "Failed" else "needs attention"
        reused = f" (report reused from run {report.reused_from_run})" if report.reused_from_run else ""
        reason = Reason(code=t.test_id, field=disk.pointer, level="error" if t.result == "Failed" else "warning",
                        message=f"{t.test_case_name} {verb} on {where(disk)}: found {t.actual_value}, "
                                f"required {t.required_value}.{reused}")
        (errors if t.result == "Failed" else warnings).append(reason)
    return errors, warnings


def percentage(done: int, total: int) -> int:
    return 100 if total == 0 else min(99, int(done * 100 / total))


def summary(reasons: list[Reason]) -> str:
    n = len(reasons)
    return f"{n} certification test{'s' if n != 1 else ''} failed: " + "; ".join(
        r.message for r in reasons[:3]) + (" …" if n > 3 else "")
