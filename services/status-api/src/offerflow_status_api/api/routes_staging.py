"""The staging reports of an operation: each plan's boot check by check, and its console log as text.

Read from the staging outcome kept in the read model's event archive, like the certification report; the
operation must belong to the caller's offer first (another publisher's run is a plain 404).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import PlainTextResponse

from offerflow_contract.events import StagingFailed, StagingPassed
from offerflow_status_api import staging_report
from offerflow_status_api.api.deps import OfferId, PublisherId, Services, Version
from offerflow_status_api.api.errors import ApiError
from offerflow_status_api.api.routes_publishing import OperationId
from offerflow_status_api.api.schemas import StagingReports

router = APIRouter(prefix="/api/publishers/{publisher_id}/offers/{offer_id}", tags=["publishing"])
PlanId = Annotated[str | None, Query(max_length=50)]
_OUTCOMES = (StagingPassed.event_type, StagingFailed.event_type)


async def _outcome(s: Services, publisher_id: str, offer_id: str, run_id: str) -> StagingPassed | StagingFailed:
    if await s.read_model.run_document(publisher_id, offer_id, run_id) is None:
        raise ApiError(404, "NotFound", f"Operation {run_id} was not found.")
    env = await s.read_model.run_event(run_id, _OUTCOMES)
    if env is None:
        raise ApiError(404, "NotFound", f"Operation {run_id} has no staging report yet.")
    event = env.event()
    assert isinstance(event, StagingPassed | StagingFailed)
    return event


@router.get("/operations/{operation_id}/staging", summary="The staging report of an operation",
            response_model=StagingReports, response_model_exclude_unset=True)
async def staging_reports(publisher_id: PublisherId, offer_id: OfferId, operation_id: OperationId, _: Version,
                          s: Services, plan: PlanId = None) -> dict[str, Any]:
    event = await _outcome(s, publisher_id, offer_id, operation_id)
    reports = [staging_report.report_shape(r) for r in event.reports if plan is None or r.plan_id == plan]
    return {"runId": operation_id, "TestResult": "Pass" if isinstance(event, StagingPassed) else "Fail",
            "reports": reports}


@router.get("/operations/{operation_id}/staging/console", summary="The console log of a plan's staging boot",
            response_class=Response,  # no media type of its own: the errors stay documented as JSON
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "The console, as the VM wrote it (its head and tail when it was long)"}})
async def staging_console(publisher_id: PublisherId, offer_id: OfferId, operation_id: OperationId, _: Version,
                          s: Services, plan: PlanId = None) -> PlainTextResponse:
    event = await _outcome(s, publisher_id, offer_id, operation_id)
    report = staging_report.console_of(event.reports, plan)
    if report is None and plan is None and len(event.reports) > 1:
        plans = ", ".join(r.plan_id for r in event.reports)
        raise ApiError(400, "PlanRequired", f"Operation {operation_id} booted several plans; name one with "
                       f"plan= ({plans}).")
    if report is None or not report.console:
        which = f"plan {plan}" if plan else f"operation {operation_id}"
        raise ApiError(404, "NotFound", f"No staging console was kept for {which}.")
    # Text, never HTML: what a VM printed is shown as it is, and nosniff keeps a browser from guessing otherwise.
    name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{operation_id}-{report.plan_id}-console.txt")
    headers = {"X-Content-Type-Options": "nosniff", "Content-Disposition": f'inline; filename="{name}"'}
    return PlainTextResponse(report.console, headers=headers)
