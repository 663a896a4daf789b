"""What every API command shares: connection options, ``--json``, and turning failures into exit codes."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from offerflow_cli.client import ApiClient, ApiRefused, ApiUnavailable
from offerflow_cli.config import Config, ConfigError
from offerflow_cli.exits import Exit
from offerflow_cli.output import Out

ApiUrl = Annotated[str | None, typer.Option("--api-url", envvar="OFFERFLOW_API_URL", show_envvar=True,
                                            help="API base URL (default: .run/endpoints.json).")]
Token = Annotated[str | None, typer.Option("--token", envvar="OFFERFLOW_TOKEN", show_envvar=True,
                                           help="Publisher bearer token.")]
Publisher = Annotated[str | None, typer.Option("--publisher", envvar="OFFERFLOW_PUBLISHER", show_envvar=True,
                                               help="Publisher id.")]
AdminToken = Annotated[str | None, typer.Option("--admin-token", envvar="OFFERFLOW_ADMIN_TOKEN",
                                                show_envvar=True, help="Admin bearer token.")]
Json = Annotated[bool, typer.Option("--json", help="Print the API's JSON documents only.")]

_KW = inspect.Parameter.KEYWORD_ONLY
_PUBLISHER_OPTS = (("api_url", ApiUrl, None), ("token", Token, None), ("publisher", Publisher, None),
                   ("as_json", Json, False))
_ADMIN_OPTS = (("api_url", ApiUrl, None), ("admin_token", AdminToken, None), ("as_json", Json, False))


@dataclass
class Cx:
    """One invocation's settings and output."""

    cfg: Config
    out: Out

    def client(self) -> ApiClient:
        return ApiClient(self.cfg.need_api_url(), self.cfg.token, self.cfg.admin_token)

    @property
    def publisher(self) -> str:
        return self.cfg.need_publisher()


def retry_hint(exc: ApiRefused) -> str:
    op = exc.blocking_operation()
    if exc.code == "OperationInProgress" or (exc.status == 409 and op and exc.retryable):
        name = op or "in progress"
        return (f"Blocked by operation {name}: retry after operation {name} ends "
                "(watch it with `offerflow offers status OFFER --follow`).")
    if exc.status == 412:
        return ("Someone else changed the offer since it was read: GET it again, reapply the change and retry "
                "(retrying unchanged fails again; --if-match '*' overwrites).")
    if exc.status == 401:
        return ("Not authenticated: pass --token / OFFERFLOW_TOKEN (admin commands: --admin-token / "
                "OFFERFLOW_ADMIN_TOKEN). Retrying unchanged will not help.")
    if exc.status == 403:
        return "This token may not do that. Retrying unchanged will not help."
    if exc.status == 404:
        return "Not found (or not visible with this token). Retrying will not help until it exists."
    if exc.status == 429 or exc.retryable:
        return "Retrying later can help."
    return "Retrying unchanged will not help; change the request first."


def refusal_text(exc: ApiRefused) -> str:
    lines = [f"Refused ({exc.status} {exc.code}): {exc.message}"]
    for d in exc.details:
        where = d.get("target") or d.get("code") or "-"
        lines.append(f"  - {where}: {d.get('message', '')}")
    lines.append(retry_hint(exc))
    return "\n".join(lines)


def _error_body(code: str, message: str, retryable: bool) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": [], "retryable": retryable}}


def run_guarded(out: Out, body: Callable[[], int | None]) -> None:
    """Run a command body and leave with its exit code; API failures become 14/15, config gaps 2."""
    try:
        code = body()
    except ConfigError as exc:
        out.error(f"Error: {exc}", _error_body("Usage", str(exc), False))
        raise typer.Exit(Exit.USAGE) from exc
    except ApiRefused as exc:
        body_doc = exc.body or _error_body(exc.code, exc.message, bool(exc.retryable))
        out.error(refusal_text(exc), body_doc)
        raise typer.Exit(Exit.REFUSED) from exc
    except ApiUnavailable as exc:
        out.error(f"{exc} Retrying later may help.",
                  exc.body or _error_body("Unavailable", str(exc), True))
        raise typer.Exit(Exit.UNAVAILABLE) from exc
    raise typer.Exit(int(code or 0))


def command(*, admin: bool = False) -> Callable[[Callable[..., int | None]], Callable[..., None]]:
    """Decorate ``fn(cx, ...)``: Typer sees fn's own options plus the shared connection options."""
    shared = _ADMIN_OPTS if admin else _PUBLISHER_OPTS

    def wrap(fn: Callable[..., int | None]) -> Callable[..., None]:
        hints = typing.get_type_hints(fn, include_extras=True)
        own = [p.replace(annotation=hints.get(p.name, p.annotation))
               for p in list(inspect.signature(fn).parameters.values())[1:]]
        extra = [inspect.Parameter(name, _KW, default=default, annotation=ann) for name, ann, default in shared]
        params = own + extra

        @functools.wraps(fn)
        def wrapper(**kwargs: Any) -> None:
            common = {name: kwargs.pop(name) for name, _, _ in shared}
            out = Out(as_json=bool(common.pop("as_json")))
            cfg = Config.resolve(common.get("api_url"), common.get("token"), common.get("publisher"),
                                 common.get("admin_token"))
            run_guarded(out, lambda: fn(Cx(cfg, out), **kwargs))

        wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper

    return wrap
