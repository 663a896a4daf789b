"""What the staging failure mail says about each plan whose boot failed: the first milestone that did not happen,
the failed check's actual vs required value, and the console's last lines, bounded. Pure, no I/O."""

from __future__ import annotations

import re
from typing import Any

from offerflow_contract.events import StagingReport

# The console's tail as the mail shows it: a VM may print anything, so lines and their length are capped, and
# control characters (ANSI colours, carriage returns, NULs) are dropped so the text part stays readable.
TAIL_LINES = 25
TAIL_LINE_CHARS = 200
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]")

NEXT_STEPS = [
    "Fix the image so that it boots to the milestone above (the console lines show where it stopped).",
    "Check it on your machine before publishing: offerflow stage IMAGE boots it the way the staging step does.",
    "Add the fixed image as a new disk version in the Editor, then Publish again.",
]


def console_tail(report: StagingReport) -> list[str]:
    lines = report.console_tail or report.console.splitlines()
    out = []
    for line in lines[-TAIL_LINES:]:
        clean = _CONTROL.sub("", line).rstrip()
        out.append(clean if len(clean) <= TAIL_LINE_CHARS else clean[: TAIL_LINE_CHARS - 1] + "…")
    return out


def plan_context(report: StagingReport) -> dict[str, Any]:
    """One failed plan: where the boot stopped and why, for both parts of the mail."""
    missing = next((c for c in report.checks if c.check_id == report.first_missing), None)
    failed = next((c for c in report.checks if c.result == "Failed"), missing)
    return {
        "plan_id": report.plan_id,
        "image_version": report.image_version,
        "summary": report.summary,
        "first_missing": missing.name if missing else (report.first_missing or ""),
        "failed_check": None if failed is None else {"name": failed.name, "actual": failed.actual,
                                                      "required": failed.required},
        "console_tail": console_tail(report),
        "console_truncated": report.console_truncated,
        "accelerator": report.accelerator,
    }


def failed_plans(reports: list[StagingReport]) -> list[dict[str, Any]]:
    return [plan_context(r) for r in reports if r.result == "Fail"]
