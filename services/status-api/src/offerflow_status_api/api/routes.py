"""Routes under ``/api``: the endpoint table of the original API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from offerflow_shared.offer import OFFER_TYPE_ID

from offerflow_status_api import rules
from offerflow_status_api.adapters.drafts import Draft, StaleETag
from offerflow_status_api.api.errors import API_VERSIONS, ApiError, check_api_version
from offerflow_status_api.commands import CommandService, NotFound, Publish, Refused, SaveDraft, parse_emails

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,48}[a-z0-9_]$|^[a-z0-9]$"


def api_version(api_version: Annotated[str | None, Query(alias="api-version")] = None) -> str:
    check_api_version(api_version)
    assert api_version is not None
    return api_version


Version = Annotated[str, Depends(api_version)]
PublisherId = Annotated[str, Path(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
OfferId = Annotated[str, Path(min_length=1, max_length=50, pattern=ID_PATTERN)]

router = APIRouter(prefix="/api")


def svc(request: Request) -> CommandService:
    service: CommandService = request.app.state.commands
    return service


Svc = Annotated[CommandService, Depends(svc)]


def _operation_location(pub: str, offer: str, run_id: str) -> str:
    return f"/api/publishers/{pub}/offers/{offer}/operations/{run_id}?api-version={API_VERSIONS[0]}"


def _offer_json(draft: Draft, status: str) -> dict[str, Any]:
    return {"offerTypeId": draft.offer_type_id, "publisherId": draft.publisher_id, "id": draft.offer_id,
            "version": draft.version, "status": status, "definition": draft.definition}


def _refused(exc: Refused) -> ApiError:
    r = exc.refusal
    return ApiError(exc.status, r.code, r.message, retryable=r.retryable)


@router.get("/offerTypes", summary="List offer types")
async def offer_types(_: Version) -> list[dict[str, str]]:
    return [{"offerTypeId": OFFER_TYPE_ID, "displayText": "Virtual Machine"}]


@router.get("/publishers/{publisher_id}/offers", summary="List offers")
async def list_offers(publisher_id: PublisherId, _: Version, s: Svc) -> list[dict[str, Any]]:
    views = {o["offer_id"]: o for o in await s.read_model.offers(publisher_id)}
    out = []
    for d in await s.drafts.list(publisher_id):
        v = views.get(d.offer_id) or {}
        out.append({"offerTypeId": d.offer_type_id, "publisherId": publisher_id, "id": d.offer_id,
                    "version": d.version, "status": v.get("status") or "neverPublished",
                    "currentStep": v.get("current_step"),
                    "stepSince": v["step_since"].isoformat() if v.get("step_since") else None,
                    "definition": {"displayText": d.definition.get("displayText", d.offer_id)},
                    "changedTime": v["changed_time"].isoformat() if v.get("changed_time") else None})
    return out


@router.get("/publishers/{publisher_id}/offers/{offer_id}", summary="Get offer")
async def get_offer(publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Svc, response: Response
                    ) -> dict[str, Any]:
    draft = await s.drafts.get(publisher_id, offer_id)
    if draft is None:
        raise ApiError(404, "NotFound", f"Offer {offer_id} was not found.")
    view = await s.read_model.offer(publisher_id, offer_id)
    response.headers["ETag"] = draft.etag
    return _offer_json(draft, (view or {}).get("status") or "neverPublished")


@router.put("/publishers/{publisher_id}/offers/{offer_id}", summary="Create or update offer",
            status_code=200, responses={201: {"description": "Created"}, 412: {"description": "Stale ETag"}})
async def put_offer(
    publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Svc,
    body: Annotated[dict[str, Any], Body()],
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> JSONResponse:
    if not if_match:
        raise ApiError(400, "MissingIfMatch", "The If-Match header is required (an ETag, or * to overwrite).")
    definition = body.get("definition")
    if not isinstance(definition, dict):
        raise ApiError(400, "BadRequest", "The body must be an offer with a 'definition' object.",
                       [{"code": "required", "target": "/definition", "message": "definition is required"}])
    for key, expected in (("id", offer_id), ("publisherId", publisher_id)):
        if key in body and body[key] != expected:
            raise ApiError(400, "BadRequest", f"'{key}' in the body ({body[key]!r}) differs from the URL.",
                           [{"code": "mismatch", "target": f"/{key}", "message": f"must be {expected!r}"}])
    try:
        draft, created = await s.save_draft(SaveDraft(
            publisher_id=publisher_id, offer_id=offer_id,
            offer_type_id=str(body.get("offerTypeId") or OFFER_TYPE_ID), definition=definition,
            if_match=if_match))
    except StaleETag as exc:
        raise ApiError(412, "PreconditionFailed", "The offer was changed by someone else; GET it again, "
                       "reapply your change and PUT with the new ETag.", headers={"ETag": str(exc)}) from exc
    view = await s.read_model.offer(publisher_id, offer_id)
    return JSONResponse(_offer_json(draft, (view or {}).get("status") or "neverPublished"),
                        status_code=201 if created else 200, headers={"ETag": draft.etag})


@router.get("/publishers/{publisher_id}/offers/{offer_id}/status", summary="Offer status")
async def status(publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Svc) -> dict[str, Any]:
    if await s.drafts.get(publisher_id, offer_id) is None:
        raise ApiError(404, "NotFound", f"Offer {offer_id} was not found.")
    view = await s.read_model.offer(publisher_id, offer_id)
    if view and view.get("current_run_id"):
        doc = await s.read_model.run_document(publisher_id, offer_id, view["current_run_id"])
        if doc:
            return doc
    return rules.status_document(None)


@router.post("/publishers/{publisher_id}/offers/{offer_id}/publish", status_code=202, summary="Publish")
async def publish(publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Svc,
                  body: Annotated[dict[str, Any], Body()]) -> Response:
    raw = (body.get("metadata") or {}).get("notification-emails") if isinstance(body.get("metadata"), dict) else None
    if not isinstance(raw, str) or not raw.strip():
        raise ApiError(400, "BadRequest", "metadata.notification-emails is required (comma-separated).",
                       [{"code": "required", "target": "/metadata/notification-emails", "message": "required"}])
    valid, invalid = parse_emails(raw)
    if invalid:
        raise ApiError(400, "BadRequest", "Some notification emails are not valid addresses.",
                       [{"code": "invalidEmail", "target": "/metadata/notification-emails", "message": e}
                        for e in invalid])
    try:
        run_id = await s.publish(Publish(publisher_id=publisher_id, offer_id=offer_id,
                                         notification_emails=valid, requested_by=publisher_id))
    except NotFound as exc:
        raise ApiError(404, "NotFound", f"Offer {offer_id} was not found.") from exc
    except Refused as exc:
        raise _refused(exc) from exc
    return Response(status_code=202, headers={"Location": _operation_location(publisher_id, offer_id, run_id)})


@router.post("/publishers/{publisher_id}/offers/{offer_id}/golive", status_code=202, summary="Go live")
async def go_live(publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Svc) -> Response:
    try:
        run_id = await s.go_live(publisher_id, offer_id, publisher_id)
    except NotFound as exc:
        raise ApiError(404, "NotFound", f"Offer {offer_id} was not found.") from exc
    except Refused as exc:
        raise _refused(exc) from exc
    return Response(status_code=202, headers={"Location": _operation_location(publisher_id, offer_id, run_id)})


@router.post("/publishers/{publisher_id}/offers/{offer_id}/cancel", summary="Cancel at publisher sign-off",
             responses={202: {"description": "Cancel recorded, not yet visible"}})
async def cancel(publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Svc) -> JSONResponse:
    try:
        run_id, done = await s.cancel(publisher_id, offer_id, publisher_id)
    except NotFound as exc:
        raise ApiError(404, "NotFound", f"Offer {offer_id} was not found.") from exc
    except Refused as exc:
        raise _refused(exc) from exc
    location = _operation_location(publisher_id, offer_id, run_id)
    doc = await s.read_model.run_document(publisher_id, offer_id, run_id) or {}
    return JSONResponse(doc, status_code=200 if done else 202, headers={"Location": location})


@router.get("/publishers/{publisher_id}/offers/{offer_id}/submissions", summary="List operations")
async def submissions(publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Svc,
                      status_filter: Annotated[str | None, Query(alias="status")] = None) -> list[dict[str, Any]]:
    if await s.drafts.get(publisher_id, offer_id) is None:
        raise ApiError(404, "NotFound", f"Offer {offer_id} was not found.")
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


@router.get("/publishers/{publisher_id}/offers/{offer_id}/operations/{operation_id}", summary="Get operation")
async def operation(publisher_id: PublisherId, offer_id: OfferId, operation_id: str, _: Version, s: Svc
                    ) -> dict[str, Any]:
    doc = await s.read_model.run_document(publisher_id, offer_id, operation_id)
    if doc is None:
        raise ApiError(404, "NotFound", f"Operation {operation_id} was not found.")
    return {**doc, "id": operation_id, "publishingVersion": doc.get("offerVersion")}


@router.get("/publishers/{publisher_id}/offers/{offer_id}/history", summary="Offer history")
async def history(publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Svc) -> list[dict[str, Any]]:
    if await s.drafts.get(publisher_id, offer_id) is None:
        raise ApiError(404, "NotFound", f"Offer {offer_id} was not found.")
    return [{"time": e.occurred_at.isoformat(), "event": e.event_type, "runId": e.run_id, "by": e.producer,
             "eventId": str(e.event_id)} for e in await s.read_model.history(publisher_id, offer_id)]
