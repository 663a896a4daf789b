"""Publishing: status, publish, go live, cancel, operations, certification reports, history (support requests:
``routes_support.py``)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from offerflow_contract.events import CertificationFailed, CertificationPassed, DiskReport
from offerflow_shared.offer import OFFER_TYPE_ID
from offerflow_status_api.api.deps import OfferId, PublisherId, Services, StatusDocsDep, Version
from offerflow_status_api.api.errors import ApiError, error_doc
from offerflow_status_api.api.routes_offers import _draft, not_found
from offerflow_status_api.api.schemas import (
    CertificationReport,
    HistoryEntry,
    OperationDocument,
    StatusDocument,
    Submission,
)
from offerflow_status_api.commands import (
    Answer,
    Cancel,
    GoLive,
    NotFound,
    Publish,
    parse_emails,
)

router = APIRouter(prefix="/api/publishers/{publisher_id}/offers/{offer_id}", tags=["publishing"])
OperationId = Annotated[str, Path(min_length=1, max_length=64)]
ACCEPTED: dict[int | str, dict[str, Any]] = {202: {"description": "Accepted, no body; Location names the operation",
                  "headers": {"Location": {"description": "The operation's URL, relative to the API root",
                                           "schema": {"type": "string"}}}}}


def respond(answer: Answer) -> Response:
    if answer.body is None:
        return Response(status_code=answer.status, headers=answer.headers)
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


async def log_answer(s: Services, publisher_id: str, offer_id: str, action: str, answer: Answer,
                     detail: str = "") -> None:
    outcome = {200: "canceled", 202: "accepted"}.get(answer.status, "refused")
    message = ((answer.body or {}).get("error") or {}).get("message", "") if answer.status >= 400 else detail
    await s.log.record(publisher_id, offer_id, action, outcome, answer.status, run_id=answer.run_id,
                       detail=message)


async def command(s: Services, publisher_id: str, offer_id: str, action: str, answer: Awaitable[Answer],
                  detail: str = "") -> Response:
    """A publishing command's answer, logged: an unknown offer is 404, anything else is the command's own."""
    try:
        decided = await answer
    except NotFound as exc:
        raise not_found(offer_id) from exc
    await log_answer(s, publisher_id, offer_id, action, decided, detail)
    return respond(decided)


IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$",
    description="Repeating a request with the same key returns the first answer instead of acting twice.")]


@router.get("/status", summary="Status of the offer's current publish operation", response_model_exclude_unset=True)
async def status(publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Services,
                 docs: StatusDocsDep) -> StatusDocument:
    state = await _draft(s, publisher_id, offer_id)
    return await docs.offer_status(publisher_id, offer_id, state)


class PublishMetadata(BaseModel):
    notification_emails: str = Field(alias="notification-emails", min_length=1, max_length=2000)


class PublishBody(BaseModel):
    metadata: PublishMetadata


@router.post("/publish", status_code=202, summary="Publish: start a new operation at step 1", response_class=Response,
             responses={**ACCEPTED, 409: error_doc("Another operation is running"),
                        429: {**error_doc("The publisher started the most publish runs allowed in the last hour "
                                          "(RunQuotaExceeded); retry after the seconds in Retry-After"),
                              "headers": {"Retry-After": {"description": "Seconds until the quota admits a run",
                                                          "schema": {"type": "integer", "minimum": 1}}}}})
async def publish(publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Services,
                  body: Annotated[PublishBody, Body()], idempotency_key: IdempotencyKey = None) -> Response:
    valid, invalid = parse_emails(body.metadata.notification_emails)
    if invalid or not valid:
        raise ApiError(400, "BadRequest", "Some notification emails are not valid addresses.",
                       [{"code": "invalidEmail", "target": "/metadata/notification-emails", "message": e}
                        for e in invalid or ["no address given"]])
    return await command(s, publisher_id, offer_id, "publish", s.commands.publish(Publish(
        publisher_id=publisher_id, offer_id=offer_id, notification_emails=valid, requested_by=publisher_id,
        idempotency_key=idempotency_key)), "notification emails: " + ", ".join(valid))


@router.post("/golive", status_code=202, summary="Go live (only while waiting for publisher sign-off)",
             response_class=Response,
             responses={**ACCEPTED, 409: error_doc("Not at sign-off, or the run was already signed off")})
async def go_live(publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Services,
                  idempotency_key: IdempotencyKey = None) -> Response:
    return await command(s, publisher_id, offer_id, "golive", s.commands.go_live(GoLive(
        publisher_id=publisher_id, offer_id=offer_id, requested_by=publisher_id, idempotency_key=idempotency_key)))


@router.post("/cancel", summary="Cancel at publisher sign-off; the offer returns to step 1",
             response_model=StatusDocument,
             responses={200: {"description": "Canceled (also for a repeated Cancel of the same run): the offer's "
                                             "status, back at step 1"},
                        409: error_doc("Not at sign-off, or Go live was chosen")})
async def cancel(publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Services,
                 idempotency_key: IdempotencyKey = None) -> Response:
    return await command(s, publisher_id, offer_id, "cancel", s.commands.cancel(Cancel(
        publisher_id=publisher_id, offer_id=offer_id, requested_by=publisher_id, idempotency_key=idempotency_key)))


@router.get("/submissions", summary="List operations, optionally filtered by state", response_model=list[Submission],
            response_model_exclude_unset=True)
async def submissions(publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Services,
                      status_filter: Annotated[str | None, Query(alias="status", max_length=40)] = None
                      ) -> list[dict[str, Any]]:
    await _draft(s, publisher_id, offer_id)
    out = []
    for r in await s.read_model.runs(publisher_id, offer_id):
        state = "running" if r["status"] not in ("succeeded", "failed", "canceled") else r["status"]
        if status_filter and status_filter not in (state, r["status"]):
            continue
        out.append({"id": r["run_id"], "offerId": offer_id, "offerVersion": r["offer_version"],
                    "offerTypeId": OFFER_TYPE_ID, "publisherId": publisher_id,
                    "submissionType": r["submission_type"], "submissionState": state, "status": r["status"],
                    "publishingVersion": r["offer_version"], "slot": "staging",
                    "definition": {"metadata": {"emails": r["emails"]}},
                    "changedTime": r["updated_at"].isoformat()})
    return out


@router.get("/operations/{operation_id}", summary="Get one operation", response_model_exclude_unset=True)
async def operation(publisher_id: PublisherId, offer_id: OfferId, operation_id: OperationId, _: Version,
                    s: Services, docs: StatusDocsDep) -> OperationDocument:
    doc = await docs.operation(publisher_id, offer_id, operation_id, await _draft(s, publisher_id, offer_id))
    if doc is None:
        raise ApiError(404, "NotFound", f"Operation {operation_id} was not found.")
    return doc


def _self_test_shape(r: DiskReport) -> dict[str, Any]:
    return {"planId": r.plan_id, "imageVersion": r.image_version, "disk": r.disk, "sha256": r.sha256,
            "certifierVersion": r.certifier_version, "reusedFromRun": r.reused_from_run, "OSName": r.os_name,
            "KernelVersion": r.kernel_version, "TestResult": r.test_result,
            "Tests": [{"TestID": t.number, "TestKey": t.test_id, "TestCaseName": t.test_case_name,
                       "Description": t.description, "Result": t.result, "ActualValue": t.actual_value,
                       "RequiredValue": t.required_value} for t in r.tests],
            # The inventory itself is an attachment (…/certification/inventory): only its size rides here.
            "packages": None if r.packages is None else {
                "format": r.packages.format, "database": r.packages.database, "total": r.packages.total,
                "listed": len(r.packages.packages)}}


@router.get("/operations/{operation_id}/certification", summary="The certification report of an operation",
            response_model=CertificationReport, response_model_exclude_unset=True)
async def certification_report(publisher_id: PublisherId, offer_id: OfferId, operation_id: OperationId,
                               _: Version, s: Services,
                               plan: Annotated[str | None, Query(max_length=50)] = None) -> dict[str, Any]:
    if await s.read_model.run_document(publisher_id, offer_id, operation_id) is None:
        raise ApiError(404, "NotFound", f"Operation {operation_id} was not found.")
    env = await s.read_model.run_event(
        operation_id, (CertificationPassed.event_type, CertificationFailed.event_type))
    if env is None:
        raise ApiError(404, "NotFound", f"Operation {operation_id} has no certification report yet.")
    event = env.event()
    assert isinstance(event, CertificationPassed | CertificationFailed)
    reports = [_self_test_shape(r) for r in event.reports if plan is None or r.plan_id == plan]
    return {"runId": operation_id, "TestResult": "Pass" if isinstance(event, CertificationPassed) else "Fail",
            "reports": reports}


@router.get("/history", summary="Every command and its outcome, and every event, in time order",
            response_model=list[HistoryEntry], response_model_exclude_unset=True)
async def history(publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Services) -> list[dict[str, Any]]:
    await _draft(s, publisher_id, offer_id)
    commands = [{"time": c["at"].isoformat(), "kind": "command", "action": c["action"], "outcome": c["outcome"],
                 "httpStatus": c["http_status"], "runId": c["run_id"], "detail": c["detail"]}
                for c in await s.log.entries(publisher_id, offer_id)]
    events = [{"time": e.occurred_at.isoformat(), "kind": "event", "action": e.event_type, "outcome": e.producer,
               "runId": e.run_id, "detail": str(e.event_id)}
              for e in await s.read_model.history(publisher_id, offer_id)]
    return sorted(commands + events, key=lambda x: x["time"])
