"""Pure decisions: which findings fail the step and how they read on the status page."""

from __future__ import annotations

from offerflow_shared.events import Reason
from offerflow_shared.offer import DiskRef

from offerflow_certification.image.findings import Finding


def reasons_for(disk: DiskRef, findings: list[Finding]) -> list[Reason]:
    where = f"plan {disk.plan_id} version {disk.image_version} disk {disk.disk}"
    return [
        Reason(code=f.test_id, field=disk.pointer,
               message=f"{f.name} failed on {where}: found {f.actual}, required {f.required}.")
        for f in findings if not f.passed
    ]


def unreadable(disk: DiskRef, why: str) -> Reason:
    return Reason(code="image.unreadable", field=disk.pointer,
                  message=f"Cannot read the image of plan {disk.plan_id} version {disk.image_version} "
                          f"disk {disk.disk}: {why}.")


def percentage(done: int, total: int) -> int:
    return 100 if total == 0 else min(99, int(done * 100 / total))


def summary(reasons: list[Reason]) -> str:
    n = len(reasons)
    return f"{n} certification test{'s' if n != 1 else ''} failed: " + "; ".join(
        r.message for r in reasons[:3]) + (" …" if n > 3 else "")
