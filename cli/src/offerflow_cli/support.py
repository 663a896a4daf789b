"""``offerflow support``: ``open`` a request about an offer (publisher token); the support desk's ``list``,
``show``, ``answer`` and ``close`` (admin token)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import quote

import typer

from offerflow_cli.common import Cx, command
from offerflow_cli.exits import Exit
from offerflow_cli.output import cell

RequestId = Annotated[str, typer.Argument(metavar="REQUEST_ID", help="Support request id (sr-…).")]


class Status(StrEnum):
    open = "open"
    answered = "answered"
    closed = "closed"


def _path(request_id: str, suffix: str = "") -> str:
    return f"/admin/support/{quote(request_id, safe='')}{suffix}"


def open_request(cx: Cx, offer: Annotated[str, typer.Argument(help="Offer id.")],
                 title: Annotated[str, typer.Option("--title", help="One-line summary.")],
                 description: Annotated[str, typer.Option("--description", help="What happened.")],
                 run: Annotated[str | None, typer.Option("--run", help="The operation (run id) concerned.")]
                 = None) -> int:
    """Open a support request."""
    with cx.client() as c:
        body = c.open_support(cx.publisher, offer, title, description, run)
    ident = body.get("id") if isinstance(body, dict) else None
    cx.out.line(f"Opened support request {ident or '-'} for offer {offer}.")
    if cx.out.json:
        cx.out.doc(body)
    return Exit.OK


def list_requests(cx: Cx, status: Annotated[Status | None, typer.Option("--status", help="Only these.")] = None,
                  publisher: Annotated[str | None, typer.Option("--for-publisher", help="Only this publisher's.")]
                  = None) -> int:
    """The support queue, newest first (admin)."""
    params = {k: v for k, v in (("status", status.value if status else None), ("publisher", publisher)) if v}
    with cx.client() as c:
        found: list[dict[str, Any]] = list(c.request("GET", "/admin/support", params=params, admin=True).body or [])
    rows = [[cell(r.get("id")), cell(r.get("status")), cell(r.get("publisherId")), cell(r.get("offerId")),
             cell(r.get("title")), cell(r.get("updatedAt"))] for r in found]
    cx.out.table(found, [("id", ""), ("status", ""), ("publisherId", ""), ("offerId", ""), ("title", ""),
                         ("updatedAt", "")], rows)
    return Exit.OK


def show_request(cx: Cx, request_id: RequestId) -> int:
    """One request with its conversation (admin)."""
    with cx.client() as c:
        doc = c.request("GET", _path(request_id), admin=True).body or {}
    if cx.out.json:
        cx.out.doc(doc)
        return Exit.OK
    cx.out.line(f"{doc.get('id')} [{doc.get('status')}] {doc.get('title')}")
    cx.out.line(f"publisher {doc.get('publisherId')}, offer {doc.get('offerId')}, run {doc.get('runId') or '-'}, "
                f"step {doc.get('step')}; contacts: {', '.join(doc.get('contactEmails') or []) or '-'}")
    for m in doc.get("conversation") or []:
        cx.out.line(f"--- {m.get('at')} {m.get('kind')} by {m.get('author')} ({m.get('role')})")
        if m.get("text"):
            cx.out.line(str(m["text"]))
    return Exit.OK


def _acted(cx: Cx, body: Any, verb: str) -> int:
    doc = body if isinstance(body, dict) else {}
    cx.out.line(f"{verb} support request {doc.get('id')}; it is {doc.get('status')} now.")
    if cx.out.json:
        cx.out.doc(doc)
    return Exit.OK


def answer_request(cx: Cx, request_id: RequestId,
                   message: Annotated[str, typer.Option("--message", help="The answer, mailed to the contacts.")],
                   by: Annotated[str, typer.Option("--by", help="Who answers, as the publisher sees it.")]
                   = "support") -> int:
    """Answer an open request (admin); a second answer before the publisher replies is refused."""
    with cx.client() as c:
        body = c.request("POST", _path(request_id, "/answer"), json={"message": message, "by": by}, admin=True).body
    return _acted(cx, body, "Answered")


def close_request(cx: Cx, request_id: RequestId,
                  message: Annotated[str, typer.Option("--message", help="A last word, mailed to the contacts.")]
                  = "") -> int:
    """Close a request (admin); it stays closed."""
    with cx.client() as c:
        body = c.request("POST", _path(request_id, "/close"), json={"message": message}, admin=True).body
    return _acted(cx, body, "Closed")


def build() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True, help="Support requests: open one (publisher); the desk's queue (admin).")
    app.command("open")(command()(open_request))
    app.command("list")(command(admin=True)(list_requests))
    app.command("show")(command(admin=True)(show_request))
    app.command("answer")(command(admin=True)(answer_request))
    app.command("close")(command(admin=True)(close_request))
    return app
