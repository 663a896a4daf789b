"""Request dependencies: api-version, the services container, the status document builder and bearer-token auth."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from offerflow_contract.envelope import Envelope
from offerflow_status_api.adapters.auth import Auth
from offerflow_status_api.adapters.history import CommandLog
from offerflow_status_api.api.errors import ApiError, check_api_version
from offerflow_status_api.api.status_doc import StatusDocs, StatusReads, StepStats, no_stats
from offerflow_status_api.api.streams import StreamRegistry
from offerflow_status_api.commands import CommandService
from offerflow_status_api.projection.view import RunView

ID_PATTERN = r"^[a-z0-9]([a-z0-9_-]{0,48}[a-z0-9_])?$"
PUBLISHER_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,48}[A-Za-z0-9_])?$"


class ReadModelQueries(StatusReads, Protocol):
    """What the routes read from the projection's read model (never used to decide a command)."""

    async def offers(self, publisher_id: str) -> list[dict[str, Any]]: ...

    async def runs(self, publisher_id: str, offer_id: str) -> list[dict[str, Any]]: ...

    async def current_run(self, publisher_id: str, offer_id: str) -> RunView | None: ...

    async def version(self, publisher_id: str, offer_id: str, version: int) -> dict[str, Any] | None: ...

    async def slot_version(self, publisher_id: str, offer_id: str, slot: str) -> int | None: ...

    async def run_event(self, run_id: str, event_types: tuple[str, ...]) -> Envelope | None: ...

    async def history(self, publisher_id: str, offer_id: str) -> list[Envelope]: ...


@dataclass(frozen=True)
class AppServices:
    commands: CommandService
    read_model: ReadModelQueries
    auth: Auth
    log: CommandLog
    admin_token: str | None
    public_url: str
    health: Any = None  # a connection of its own for /readyz: a busy pool is not a dead database
    step_stats: StepStats = no_stats  # measured step durations, for the ETAs of status documents
    streams: StreamRegistry = field(default_factory=StreamRegistry)  # open status streams, per token


# The dependencies are coroutines although none of them awaits: FastAPI runs a plain function dependency in a
# worker thread, a thread handoff per dependency per request (measured: about a sixth of the API's CPU time
# under a burst of writes went into those handoffs).
async def api_version(api_version: Annotated[str | None, Query(alias="api-version")] = None) -> str:
    check_api_version(api_version)
    assert api_version is not None
    return api_version


async def services(request: Request) -> AppServices:
    s: AppServices = request.app.state.services
    return s


Version = Annotated[str, Depends(api_version)]
Services = Annotated[AppServices, Depends(services)]


async def status_docs(s: Services) -> StatusDocs:
    return StatusDocs(s.read_model, s.commands.drafts, s.step_stats)


StatusDocsDep = Annotated[StatusDocs, Depends(status_docs)]
OfferId = Annotated[str, Path(min_length=1, max_length=50, pattern=ID_PATTERN)]


# Declared as a security scheme (not a header parameter) so the OpenAPI document says how to authenticate.
publisher_bearer = HTTPBearer(auto_error=False, scheme_name="publisherToken",
                              description="A publisher's API token (`offerflow tokens create`).")
admin_bearer = HTTPBearer(auto_error=False, scheme_name="adminToken",
                          description="The operator's admin token (OFFERFLOW_STATUS_API_ADMIN_TOKEN).")
Credentials = HTTPAuthorizationCredentials | None


def _bearer(credentials: Credentials) -> str | None:
    return credentials.credentials.strip() or None if credentials else None


_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


async def authorized_publisher(
    publisher_id: Annotated[str, Path(min_length=1, max_length=50, pattern=PUBLISHER_PATTERN)],
    s: Services,
    credentials: Annotated[Credentials, Depends(publisher_bearer)] = None,
) -> str:
    """The path's publisher, if the token belongs to it; another publisher's path is a plain 404."""
    token = _bearer(credentials)
    if token is None:
        raise ApiError(401, "Unauthorized", "A bearer token is required (Authorization: Bearer <token>).",
                       headers=_UNAUTHORIZED)
    owner = await s.auth.publisher_for(token)
    if owner is None:
        raise ApiError(401, "Unauthorized", "The token is not valid or was revoked.", headers=_UNAUTHORIZED)
    if owner != publisher_id:
        raise ApiError(404, "NotFound", "Not found.")
    return publisher_id


PublisherId = Annotated[str, Depends(authorized_publisher)]


async def admin(s: Services, credentials: Annotated[Credentials, Depends(admin_bearer)] = None) -> None:
    token = _bearer(credentials)
    if not s.admin_token:
        raise ApiError(403, "Forbidden", "Administration is disabled: no admin token is configured.")
    if token is None or not hmac.compare_digest(token, s.admin_token):
        raise ApiError(401, "Unauthorized", "The admin token is required.", headers=_UNAUTHORIZED)


Admin = Annotated[None, Depends(admin)]
