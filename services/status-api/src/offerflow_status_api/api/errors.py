"""Every error has the original API's shape: ``{"error": {code, message, details[]}}``."""

from __future__ import annotations

from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from offerflow_shared.db import PoolBusy

API_VERSIONS = ("2017-10-31",)


class ErrorDetail(BaseModel):
    code: str
    target: str | None = None
    message: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = []
    retryable: bool | None = None


class ErrorBody(BaseModel):
    """Every error: ``{"error": {code, message, details[]}}``."""

    error: ErrorInfo


def error_doc(description: str) -> dict[str, Any]:
    """An error response for a route's ``responses=``: the API's error shape, with what this status means."""
    return {"model": ErrorBody, "description": description}


COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: error_doc("Bad request: unknown api-version, or invalid fields (each named in details)"),
    401: error_doc("No or an invalid bearer token"),
    403: error_doc("Forbidden"),
    404: error_doc("Not found (also for another publisher's resources)"),
    409: error_doc("Refused in the offer's current state; the message says why"),
    412: error_doc("If-Match does not match the current ETag"),
    413: error_doc("Request body too large"),
    429: {**error_doc("Too many requests: the token's rate limit (TooManyRequests), its open status streams "
                      "(TooManyStreams) or the publisher's publish runs per hour (RunQuotaExceeded); retry "
                      "after the number of seconds in Retry-After"),
          "headers": {"Retry-After": {"description": "Seconds to wait before retrying",
                                      "schema": {"type": "integer", "minimum": 1}}}},
    503: error_doc("Busy: retry after the number of seconds in Retry-After"),
}


def document(app: FastAPI) -> None:
    """Validation errors are answered 400 in the API's error shape, never 422: say so in the schema."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                if not isinstance(operation, dict):
                    continue
                operation.get("responses", {}).pop("422", None)
                for param in operation.get("parameters", []):
                    # Checked by hand so that a wrong value gets the original API's InvalidAPIVersion error.
                    if param.get("name") == "api-version":
                        param["required"] = True
                        param["schema"] = {"type": "string", "enum": list(API_VERSIONS)}
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None,
                 *, retryable: bool | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or []
        self.retryable = retryable
        self.headers = headers

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message, "details": self.details}
        if self.retryable is not None:
            err["retryable"] = self.retryable
        return {"error": err}


def error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


def busy(why: str) -> JSONResponse:
    """503 at once, never a hanging request: the client may retry after a second."""
    return error_response(ApiError(503, "ServiceBusy", f"The service is busy ({why}); retry in a moment.",
                                   retryable=True, headers={"Retry-After": "1"}))


def _pointer(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"code": e.get("type", "invalid"), "target": _pointer(tuple(e.get("loc", ()))),
                    "message": e.get("msg", "invalid")} for e in exc.errors()]
        return error_response(ApiError(400, "BadRequest", "The request is not valid.", details))

    @app.exception_handler(PoolBusy)
    async def _busy(_: Request, exc: PoolBusy) -> JSONResponse:
        return busy(str(exc))

    @app.exception_handler(asyncpg.LockNotAvailableError)
    async def _lock_timeout(_: Request, exc: asyncpg.LockNotAvailableError) -> JSONResponse:
        return busy("another change of the same offer is in progress")

    @app.exception_handler(asyncpg.QueryCanceledError)
    async def _statement_timeout(_: Request, exc: asyncpg.QueryCanceledError) -> JSONResponse:
        return busy("the database took too long to answer")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NotFound", 405: "MethodNotAllowed", 401: "Unauthorized"}.get(exc.status_code, "Error")
        return error_response(ApiError(exc.status_code, code, str(exc.detail)))


def check_api_version(value: str | None) -> None:
    if value not in API_VERSIONS:
        raise ApiError(400, "InvalidAPIVersion",
                       f"Invalid api version. Allowed values are [{', '.join(API_VERSIONS)}]")
