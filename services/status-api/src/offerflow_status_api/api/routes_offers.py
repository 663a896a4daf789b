"""Offer documents: list, get (by version and slot), create/update with If-Match, validation, add-version."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Path, Response
from fastapi.responses import JSONResponse

from offerflow_contract.steps import StepId
from offerflow_shared.offer import OFFER_TYPE_ID
from offerflow_status_api import documents
from offerflow_status_api.api.deps import AppServices, OfferId, PublisherId, Services, Version
from offerflow_status_api.api.errors import ApiError, error_doc
from offerflow_status_api.api.schemas import Offer, OfferSummary, OfferType, Validation
from offerflow_status_api.commands import (
    AddImageVersion,
    FrozenFields,
    ImageVersionConflict,
    NotFound,
    OfferState,
    QuotaExceeded,
    SaveDraft,
    StaleETag,
)

router = APIRouter(prefix="/api", tags=["offers"])
ETAG = {"ETag": {"description": "The draft's ETag, for If-Match", "schema": {"type": "string"}}}


def not_found(offer_id: str) -> ApiError:
    return ApiError(404, "NotFound", f"Offer {offer_id} was not found.")


def offer_json(draft: OfferState, view: dict[str, Any] | None, definition: dict[str, Any] | None = None,
               version: int | None = None, written_at: datetime | None = None) -> dict[str, Any]:
    """An offer document; ``view`` is the offer's row in the read model (its status and ``changedTime``)."""
    return {"offerTypeId": draft.offer_type_id, "publisherId": draft.publisher_id, "id": draft.offer_id,
            "version": draft.version if version is None else version,
            "status": str((view or {}).get("status") or "neverPublished"),
            "definition": documents.for_response(draft.definition if definition is None else definition),
            "changedTime": documents.changed_time(view, written_at)}


def summary_json(draft: OfferState, view: dict[str, Any] | None) -> dict[str, Any]:
    """One offer as the list shows it (and the publisher's offer stream pushes it)."""
    v = view or {}
    return {"offerTypeId": draft.offer_type_id, "publisherId": draft.publisher_id, "id": draft.offer_id,
            "version": draft.version, "status": v.get("status") or "neverPublished",
            "currentStep": v.get("current_step"),
            "stepSince": documents.iso(v.get("step_since")),
            "definition": {"displayText": draft.definition.get("displayText", draft.offer_id)},
            "changedTime": documents.changed_time(view)}


async def summaries(s: AppServices, publisher_id: str) -> list[dict[str, Any]]:
    """Every offer of the publisher, with its latest status, in the order of the offer ids."""
    views = {o["offer_id"]: o for o in await s.read_model.offers(publisher_id)}
    return [summary_json(d, views.get(d.offer_id)) for d in await s.commands.drafts.list(publisher_id)]


async def _view(s: Services, publisher_id: str, offer_id: str) -> dict[str, Any] | None:
    return await s.read_model.offer(publisher_id, offer_id)


async def _draft(s: Services, publisher_id: str, offer_id: str) -> OfferState:
    draft = await s.commands.drafts.get(publisher_id, offer_id)
    if draft is None:
        raise not_found(offer_id)
    return draft


@router.get("/offerTypes", summary="List offer types", response_model=list[OfferType])
async def offer_types(_: Version) -> list[dict[str, str]]:
    return [{"offerTypeId": OFFER_TYPE_ID, "displayText": "Virtual Machine"}]


@router.get("/publishers/{publisher_id}/offers", summary="List offers with their latest status",
            response_model=list[OfferSummary], response_model_exclude_unset=True)
async def list_offers(publisher_id: PublisherId, _: Version, s: Services) -> list[dict[str, Any]]:
    return await summaries(s, publisher_id)


@router.get("/publishers/{publisher_id}/offers/{offer_id}", summary="Get the offer (draft)", response_model=Offer,
            response_model_exclude_unset=True, responses={200: {"headers": ETAG}})
async def get_offer(publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Services,
                    response: Response) -> dict[str, Any]:
    draft = await _draft(s, publisher_id, offer_id)
    response.headers["ETag"] = draft.etag
    return offer_json(draft, await _view(s, publisher_id, offer_id))


@router.get("/publishers/{publisher_id}/offers/{offer_id}/versions/{version}", summary="Get a published version",
            response_model=Offer, response_model_exclude_unset=True)
async def get_version(publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Services,
                      version: Annotated[int, Path(ge=1)]) -> dict[str, Any]:
    draft = await _draft(s, publisher_id, offer_id)
    found = await s.read_model.version(publisher_id, offer_id, version)
    if found is None:
        raise ApiError(404, "NotFound", f"Offer {offer_id} has no published version {version}.")
    return offer_json(draft, await _view(s, publisher_id, offer_id), found["definition"], version)


@router.get("/publishers/{publisher_id}/offers/{offer_id}/slot/{slot_id}", summary="Get a slot", response_model=Offer,
            response_model_exclude_unset=True)
async def get_slot(publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Services,
                   slot_id: Literal["Draft", "Preview", "Production"], response: Response) -> dict[str, Any]:
    draft = await _draft(s, publisher_id, offer_id)
    view = await _view(s, publisher_id, offer_id)
    if slot_id == "Draft":
        response.headers["ETag"] = draft.etag
        return offer_json(draft, view)
    version = await s.read_model.slot_version(publisher_id, offer_id, slot_id)
    found = await s.read_model.version(publisher_id, offer_id, version) if version else None
    if found is None:
        raise ApiError(404, "NotFound", f"Offer {offer_id} never reached the {slot_id} slot.")
    return offer_json(draft, view, found["definition"], found["version"])


@router.put("/publishers/{publisher_id}/offers/{offer_id}", summary="Create or update the offer",
            response_model=Offer,
            responses={200: {"description": "Updated", "headers": ETAG},
                       201: {"model": Offer, "description": "Created", "headers": ETAG},
                       403: error_doc("A new offer beyond the publisher's quota of offers (OfferQuotaExceeded)"),
                       412: error_doc("Stale ETag: GET the offer again and reapply the change")})
async def put_offer(
    publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Services,
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
    problems = documents.format_problems(body)
    if problems:
        raise ApiError(400, "InvalidOffer", f"{len(problems)} field(s) are not valid.", documents.details(problems))
    # Taken before the write: its event's time is later, so what the offer shows once the projection read that
    # event is never older than what this answer says.
    written_at = datetime.now(UTC)
    try:
        draft, created = await s.commands.save_draft(SaveDraft(
            publisher_id=publisher_id, offer_id=offer_id,
            offer_type_id=str(body.get("offerTypeId") or OFFER_TYPE_ID), definition=definition,
            if_match=if_match))
    except StaleETag as exc:
        await s.log.record(publisher_id, offer_id, "update", "refused: stale ETag", 412)
        raise ApiError(412, "PreconditionFailed", "The offer was changed by someone else; GET it again, "
                       "reapply your change and PUT with the new ETag.", retryable=False) from exc
    except QuotaExceeded as exc:
        # Not 429: waiting does not free an offer; the publisher reuses one or the operator raises the quota.
        # Nothing is recorded, not even in the command log: the offer does not exist.
        raise ApiError(403, exc.refusal.code, exc.refusal.message, retryable=False) from exc
    except FrozenFields as exc:
        await s.log.record(publisher_id, offer_id, "update", "refused: field fixed once live", 400, detail=str(exc))
        raise ApiError(400, "FieldFixedOnceLive", "Some fields cannot change once the offer is live.",
                       documents.details(exc.reasons)) from exc
    await s.log.record(publisher_id, offer_id, "create" if created else "update", "accepted", 201 if created else 200)
    return JSONResponse(offer_json(draft, await _view(s, publisher_id, offer_id), written_at=written_at),
                        status_code=201 if created else 200, headers={"ETag": draft.etag})


@router.get("/publishers/{publisher_id}/offers/{offer_id}/validation",
            summary="Every problem of the draft, each with the JSON pointer of its field", response_model=Validation,
            response_model_exclude_unset=True)
async def validation(publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Services) -> dict[str, Any]:
    draft = await _draft(s, publisher_id, offer_id)
    # Pointers are into the whole document (what the editor holds), like the 400s of PUT.
    problems = documents.details(documents.publish_problems(draft.definition), prefix="/definition")
    last = await s.read_model.current_run(publisher_id, offer_id)
    step: list[dict[str, Any]] = []
    if last is not None:
        step = [{**m.to_api(), "field": "/definition" + m.field}
                for m in last.steps[StepId.VALIDATION].messages if m.field]
    return {"problems": problems, "lastRun": {"runId": last.run_id if last else None, "messages": step}}


@router.put("/publishers/{publisher_id}/offers/{offer_id}/plans/{plan_id}/versions/{version}",
            summary="Add an image version to a plan (idempotent)", response_model=Offer,
            responses={200: {"description": "Already there with the same content", "headers": ETAG},
                       201: {"model": Offer, "description": "Added", "headers": ETAG},
                       409: error_doc("The version exists with other content")})
async def add_version(publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Services,
                      plan_id: Annotated[str, Path(min_length=1, max_length=50)],
                      version: Annotated[str, Path(min_length=1, max_length=20, pattern=r"^[0-9][0-9.]*$")],
                      body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    if not isinstance(body.get("osVhdUrl"), str) or not body["osVhdUrl"]:
        raise ApiError(400, "BadRequest", "osVhdUrl is required.",
                       [{"code": "required", "target": "/osVhdUrl", "message": "required"}])
    written_at = datetime.now(UTC)
    try:
        draft, created = await s.commands.add_image_version(AddImageVersion(
            publisher_id=publisher_id, offer_id=offer_id, plan_id=plan_id, version=version, image=body))
    except NotFound as exc:
        raise ApiError(404, "NotFound", str(exc)) from exc
    except ImageVersionConflict as exc:
        await s.log.record(publisher_id, offer_id, "add-version", "refused: exists with other content", 409)
        raise ApiError(409, "VersionExists", str(exc), retryable=False) from exc
    await s.log.record(publisher_id, offer_id, "add-version", "added" if created else "unchanged",
                       201 if created else 200, detail=f"{plan_id} {version}")
    view = await _view(s, publisher_id, offer_id)
    return JSONResponse(offer_json(draft, view, written_at=written_at if created else None),
                        status_code=201 if created else 200, headers={"ETag": draft.etag})
