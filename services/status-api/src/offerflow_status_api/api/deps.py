"""Request dependencies: api-version, the services container and bearer-token auth."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from offerflow_status_api.adapters.auth import Auth
from offerflow_status_api.adapters.history import CommandLog
from offerflow_status_api.api.errors import ApiError, check_api_version
from offerflow_status_api.commands import CommandService

ID_PATTERN = r"^[a-z0-9]([a-z0-9_-]{0,48}[a-z0-9_])?$"
PUBLISHER_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,48}[A-Za-z0-9_])?$"


@dataclass
class AppServices:
    commands: CommandService
    auth: Auth
    log: CommandLog
    admin_token: str | None
    public_url: str
    health: Any = None  # a connection of its own for /readyz: a busy pool is not a dead database


def api_version(api_version: Annotated[str | None, Query(alias="api-version")] = None) -> str:
    check_api_version(api_version)
    assert api_version is not None
    return api_version


def services(request: Request) -> AppServices:
    s: AppServices = request.app.state.services
    return s


Version = Annotated[str, Depends(api_version)]
Services = Annotated[AppServices, Depends(services)]
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
