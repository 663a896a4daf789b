"""What no route may ever see, refused before routing: oversized bodies, NUL characters, non-finite numbers and
JSON nested without end.

A pure ASGI middleware, outermost, so it works the same for every route (the publisher API, admin, the portal's
static files) and needs nothing from them. It reads the whole body itself, counting the bytes as they arrive, so
the size limit holds for ``Transfer-Encoding: chunked`` bodies too (a ``Content-Length`` check alone lets those
through), then hands the same bytes to the app.

Why refuse rather than let the routes cope: PostgreSQL cannot store ``\\u0000`` in text or jsonb, and JSON has no
NaN or Infinity (Python's parser accepts them; the database, the portal and every other reader do not). Such a
value used to be accepted, put into an event, and then fail in every consumer, again and again. Refused here, the
publisher gets a 400 naming the field (a JSON pointer into the body, as the API's validation errors do) and
nothing is recorded.
"""

from __future__ import annotations

import email.message
import json
import math
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from offerflow_status_api.api.errors import ApiError, error_response

MAX_DEPTH = 64
MAX_DETAILS = 20  # one bad field is enough to refuse; a flood of details helps nobody

NUL = "nul_character"
NON_FINITE = "non_finite_number"
TOO_DEEP = "too_deep"
_MESSAGES = {
    NUL: "Text must not contain NUL characters (\\u0000).",
    NON_FINITE: "Numbers must be finite: NaN, Infinity and numbers out of range (such as 1e999) are refused.",
}


def pointer(parts: tuple[str | int, ...]) -> str:
    """RFC 6901 JSON pointer, as the API's validation errors name fields."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _detail(code: str, parts: tuple[str | int, ...], message: str | None = None) -> dict[str, Any]:
    return {"code": code, "target": pointer(parts), "message": message or _MESSAGES[code]}


def _shown(key: str | int) -> str | int:
    """A field name as the client wrote it in JSON, so a NUL in it is visible in the pointer."""
    return key.replace("\x00", "\\u0000") if isinstance(key, str) else key


def body_problems(doc: Any, *, max_depth: int = MAX_DEPTH) -> list[dict[str, Any]]:
    """Every NUL in a key or string, every non-finite number, and the first container nested too deep."""
    found: list[dict[str, Any]] = []
    # Iterative: the depth limit is what is being checked, so the walk itself must not recurse.
    stack: list[tuple[Any, tuple[str | int, ...], int, bool]] = [(doc, (), 0, False)]
    while stack and len(found) < MAX_DETAILS:
        value, parts, depth, bad_key = stack.pop()
        if bad_key:
            found.append(_detail(NUL, parts, "Field names must not contain NUL characters."))
        if isinstance(value, dict | list):
            if depth >= max_depth:
                found.append(_detail(TOO_DEEP, parts, f"JSON may be nested at most {max_depth} levels deep."))
                continue
            items = value.items() if isinstance(value, dict) else enumerate(value)
            children = [(child, (*parts, _shown(key)), depth + 1, isinstance(key, str) and "\x00" in key)
                        for key, child in items]
            stack.extend(reversed(children))  # reported in document order
        elif isinstance(value, str) and "\x00" in value:
            found.append(_detail(NUL, parts))
        elif isinstance(value, float) and not math.isfinite(value):
            found.append(_detail(NON_FINITE, parts))
    return found[:MAX_DETAILS]


def parse_problems(body: bytes, *, max_depth: int = MAX_DEPTH) -> list[dict[str, Any]] | None:
    """Problems of a JSON body; None when it is not JSON at all (the route answers that with its own 400)."""
    try:
        # json.loads reads NaN, Infinity and -Infinity as floats and 1e999 as inf: the walk finds them.
        doc = json.loads(body)
    except json.JSONDecodeError:
        return None
    except RecursionError:
        return [_detail(TOO_DEEP, (), f"JSON may be nested at most {max_depth} levels deep.")]
    except ValueError as exc:  # not UTF-8, or an integer too long to read
        return [_detail("invalid_json", (), f"The body cannot be read as JSON: {exc}")]
    return body_problems(doc, max_depth=max_depth)


def url_problems(path: str, query_string: bytes) -> list[dict[str, Any]]:
    """NUL (``%00``) anywhere in the path or in a query parameter's name or value."""
    found: list[dict[str, Any]] = []
    if "\x00" in path:
        shown = quote(path, safe="/")
        found.append({"code": NUL, "target": "path",
                      "message": f"The URL path must not contain NUL characters (%00): {shown}"})
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            found.append({"code": NUL, "target": pointer((name.replace("\x00", "%00"),)),
                          "message": "Query parameters must not contain NUL characters (%00)."})
    return found[:MAX_DETAILS]


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    """The same test FastAPI uses to decide whether a body is parsed as JSON (no content type counts)."""
    value = next((v.decode("latin-1") for k, v in headers if k.lower() == b"content-type"), None)
    if not value:
        return True
    message = email.message.Message()
    message["content-type"] = value
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    value = next((v for k, v in headers if k.lower() == b"content-length"), None)
    return int(value) if value is not None and value.strip().isdigit() else None


class RequestGuard:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int = 1_048_576, max_depth: int = MAX_DEPTH) -> None:
        self.app, self.max_body_bytes, self.max_depth = app, max_body_bytes, max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if problems := url_problems(scope.get("path", ""), scope.get("query_string", b"")):
            await self._refuse(scope, receive, send, _bad_request(problems))
            return
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        declared = _declared_length(headers)
        if declared is not None and declared > self.max_body_bytes:
            await self._refuse(scope, receive, send, self._too_large())
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before sending its whole body: nobody to answer, nothing to do
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._refuse(scope, receive, send, self._too_large())
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and _is_json(headers):
            problems = parse_problems(body, max_depth=self.max_depth) or []
            if problems:
                await self._refuse(scope, receive, send, _bad_request(problems))
                return
        await self.app(scope, _replay(body, receive), send)

    def _too_large(self) -> ApiError:
        # The rest of an oversized body is never read, so the connection cannot carry another request.
        return ApiError(413, "PayloadTooLarge", f"Request bodies are limited to {self.max_body_bytes} bytes.",
                        headers={"Connection": "close"})

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, error: ApiError) -> None:
        await error_response(error)(scope, receive, send)


def _bad_request(details: list[dict[str, Any]]) -> ApiError:
    return ApiError(400, "BadRequest", "The request is not valid.", details)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, once; then the server's own messages (the client's disconnect)."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replayed
