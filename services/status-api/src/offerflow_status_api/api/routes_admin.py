"""Ops endpoints behind the admin token: publishers and their API tokens."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response
from pydantic import BaseModel, Field

from offerflow_status_api.adapters.auth import AlreadyExists
from offerflow_status_api.api.deps import PUBLISHER_PATTERN, Admin, Services
from offerflow_status_api.api.errors import ApiError
from offerflow_status_api.api.schemas import Publisher, PublisherListed, TokenCreated, TokenListed

router = APIRouter(prefix="/admin", tags=["admin"])
Pub = Annotated[str, Path(min_length=1, max_length=50, pattern=PUBLISHER_PATTERN)]


class NewPublisher(BaseModel):
    publisherId: str = Field(min_length=1, max_length=50, pattern=PUBLISHER_PATTERN)
    displayName: str = Field("", max_length=100)


class NewToken(BaseModel):
    name: str = Field("default", min_length=1, max_length=100)


@router.post("/publishers", status_code=201, summary="Create a publisher", response_model=Publisher)
async def create_publisher(_: Admin, s: Services, body: Annotated[NewPublisher, Body()]) -> dict[str, str]:
    try:
        await s.auth.create_publisher(body.publisherId, body.displayName or body.publisherId)
    except AlreadyExists as exc:
        raise ApiError(409, "Conflict", f"Publisher {body.publisherId} already exists.") from exc
    return {"publisherId": body.publisherId, "displayName": body.displayName or body.publisherId}


@router.get("/publishers", summary="List publishers", response_model=list[PublisherListed])
async def list_publishers(_: Admin, s: Services) -> list[dict[str, Any]]:
    return [{"publisherId": p["publisher_id"], "displayName": p["display_name"],
             "createdAt": p["created_at"].isoformat()} for p in await s.auth.publishers()]  # type: ignore[attr-defined]


@router.post("/publishers/{publisher_id}/tokens", status_code=201, summary="Create an API token (shown once)",
             response_model=TokenCreated)
async def create_token(_: Admin, s: Services, publisher_id: Pub,
                       body: Annotated[NewToken | None, Body()] = None) -> dict[str, Any]:
    if not await s.auth.publisher_exists(publisher_id):
        raise ApiError(404, "NotFound", f"Publisher {publisher_id} was not found.")
    token, secret = await s.auth.create_token(publisher_id, (body or NewToken()).name)
    return {"id": token.token_id, "token": secret, "publisherId": publisher_id, "name": token.name,
            "createdAt": token.created_at.isoformat()}


@router.get("/publishers/{publisher_id}/tokens", summary="List a publisher's tokens (never their secrets)",
            response_model=list[TokenListed])
async def list_tokens(_: Admin, s: Services, publisher_id: Pub) -> list[dict[str, Any]]:
    return [{"id": t.token_id, "name": t.name, "createdAt": t.created_at.isoformat(),
             "revokedAt": t.revoked_at.isoformat() if t.revoked_at else None}
            for t in await s.auth.tokens(publisher_id)]


@router.delete("/tokens/{token_id}", status_code=204,
               summary="Revoke a token (effective immediately; its open status streams end)",
               response_class=Response, responses={204: {"description": "Revoked"}})
async def revoke_token(_: Admin, s: Services, token_id: Annotated[str, Path(max_length=64)]) -> Response:
    token_hash = await s.auth.revoke(token_id)
    if token_hash is None:
        raise ApiError(404, "NotFound", f"No live token {token_id}.")
    # Streams held in this process end now; those of other API processes at their next re-check of the token.
    s.streams.revoke(token_hash)
    return Response(status_code=204)
