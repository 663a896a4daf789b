"""The support desk: a publisher opens a request about an operation, lists and reads their own, replies and
closes them; the support desk (admin token) lists the queue, reads, answers and closes any request.

Commands decide from the command side (``commands/support.py``) and answer with the request's new state; the
documents served by the GET routes come from the read model (``projection/support.py``), which follows the
events within moments. Another publisher's request is a plain 404, as for offers.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from offerflow_status_api.api.deps import PUBLISHER_PATTERN, Admin, OfferId, PublisherId, Services, Version
from offerflow_status_api.api.errors import ApiError, error_doc
from offerflow_status_api.api.routes_offers import _draft
from offerflow_status_api.api.schemas import SupportRequest
from offerflow_status_api.commands import NotFound, OpenSupportRequest
from offerflow_status_api.commands.postgres import PgCommandStore
from offerflow_status_api.commands.support import SupportConflict, SupportDesk, SupportRow
from offerflow_status_api.commands.support_pg import PgSupportStore
from offerflow_status_api.projection.support import SupportViews

router = APIRouter(tags=["support"])
RequestId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Status = Annotated[Literal["open", "answered", "closed"] | None, Query(description="open, answered or closed")]
RUN_ID = Query(max_length=64)
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: error_doc("The request is not where this action can start from (answered already, or closed)")}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SupportBody(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=10_000)
    runId: str | None = Field(None, max_length=64)


class MessageBody(Strict):
    message: str = Field(min_length=1, max_length=10_000)


class CloseBody(Strict):
    message: str = Field("", max_length=10_000)


class AnswerBody(MessageBody):
    by: str = Field("support", min_length=1, max_length=100, description="Who answers, as the publisher sees it")


class SupportState(Strict):
    """A request's state right after a command (the command side's; the GET routes follow within moments)."""

    id: str
    publisherId: str
    offerId: str
    runId: str | None = None
    step: str
    title: str
    status: str


class SupportMessage(Strict):
    seq: int
    kind: str
    role: str
    author: str | None = None
    text: str
    at: str


class SupportListed(SupportState):
    contactEmails: list[str]
    openedAt: str
    updatedAt: str


class SupportDocument(SupportListed):
    conversation: list[SupportMessage]


def _store(s: Services) -> PgCommandStore:
    store = s.commands.store
    if not isinstance(store, PgCommandStore):
        raise ApiError(503, "Unavailable", "The support desk needs the PostgreSQL command store.")
    return store


def _desk(s: Services) -> SupportDesk:
    store = _store(s)
    return SupportDesk(store, PgSupportStore(store.pool), s.commands.read_model)


def _views(s: Services) -> SupportViews:
    return SupportViews(_store(s).pool)


async def _decided(row: Any) -> dict[str, Any]:
    """A command's outcome: NotFound is 404, a refused transition 409 with the API's error body."""
    try:
        done: SupportRow = await row
    except NotFound as exc:
        raise ApiError(404, "NotFound", str(exc)) from exc
    except SupportConflict as exc:
        raise ApiError(409, exc.code, str(exc)) from exc
    return done.to_api()


def _found(doc: dict[str, Any] | None, request_id: str) -> dict[str, Any]:
    if doc is None:
        raise ApiError(404, "NotFound", f"Support request {request_id} was not found.")
    return doc


# --- the publisher --------------------------------------------------------------------------------

PUB = "/api/publishers/{publisher_id}/support"


@router.post("/api/publishers/{publisher_id}/offers/{offer_id}/support", status_code=201,
             summary="Open a support request about an operation", response_model=SupportRequest,
             response_model_exclude_unset=True)
async def open_support(publisher_id: PublisherId, offer_id: OfferId, _: Version, s: Services,
                       body: Annotated[SupportBody, Body()]) -> dict[str, Any]:
    await _draft(s, publisher_id, offer_id)
    try:
        created = await _desk(s).open(OpenSupportRequest(
            publisher_id=publisher_id, offer_id=offer_id, run_id=body.runId, title=body.title,
            description=body.description))
    except NotFound as exc:
        raise ApiError(404, "NotFound", str(exc)) from exc
    await s.log.record(publisher_id, offer_id, "support", "opened", 201, run_id=created["runId"],
                       detail=created["id"])
    return created


@router.get(PUB, summary="The publisher's support requests, newest first", response_model=list[SupportListed])
async def my_requests(publisher_id: PublisherId, _: Version, s: Services, status: Status = None,
                      offer: Annotated[str | None, Query(max_length=50)] = None,
                      run: Annotated[str | None, RUN_ID] = None) -> list[dict[str, Any]]:
    return await _views(s).list(publisher_id=publisher_id, status=status, offer_id=offer, run_id=run)


@router.get(PUB + "/{request_id}", summary="One of the publisher's support requests, with its conversation",
            response_model=SupportDocument)
async def my_request(publisher_id: PublisherId, request_id: RequestId, _: Version, s: Services) -> dict[str, Any]:
    return _found(await _views(s).get(request_id, publisher_id=publisher_id), request_id)


@router.post(PUB + "/{request_id}/reply", summary="Reply to the support desk (an answered request opens again)",
             response_model=SupportState, responses=CONFLICT)
async def reply(publisher_id: PublisherId, request_id: RequestId, _: Version, s: Services,
                body: Annotated[MessageBody, Body()]) -> dict[str, Any]:
    return await _decided(_desk(s).reply(publisher_id, request_id, body.message))


@router.post(PUB + "/{request_id}/close", summary="Close one's own request (it stays closed)",
             response_model=SupportState, responses=CONFLICT)
async def close_mine(publisher_id: PublisherId, request_id: RequestId, _: Version, s: Services,
                     body: Annotated[CloseBody | None, Body()] = None) -> dict[str, Any]:
    return await _decided(_desk(s).close(request_id, publisher_id, publisher_id=publisher_id,
                                         message=(body or CloseBody()).message))


# --- the support desk (admin token) ---------------------------------------------------------------

@router.get("/admin/support", summary="The support queue, newest first", response_model=list[SupportListed])
async def queue(_: Admin, s: Services, status: Status = None,
                publisher: Annotated[str | None, Query(max_length=50, pattern=PUBLISHER_PATTERN)] = None
                ) -> list[dict[str, Any]]:
    return await _views(s).list(publisher_id=publisher, status=status)


@router.get("/admin/support/{request_id}", summary="One support request, with its conversation",
            response_model=SupportDocument)
async def show(_: Admin, s: Services, request_id: RequestId) -> dict[str, Any]:
    return _found(await _views(s).get(request_id), request_id)


@router.post("/admin/support/{request_id}/answer", summary="Answer an open request (mailed to its contacts)",
             response_model=SupportState, responses=CONFLICT)
async def answer(_: Admin, s: Services, request_id: RequestId,
                 body: Annotated[AnswerBody, Body()]) -> dict[str, Any]:
    return await _decided(_desk(s).answer(request_id, body.message, body.by))


@router.post("/admin/support/{request_id}/close", summary="Close a request (mailed to its contacts)",
             response_model=SupportState, responses=CONFLICT)
async def close(_: Admin, s: Services, request_id: RequestId,
                body: Annotated[CloseBody | None, Body()] = None) -> dict[str, Any]:
    return await _decided(_desk(s).close(request_id, "support", message=(body or CloseBody()).message))
