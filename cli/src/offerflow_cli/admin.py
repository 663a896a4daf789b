"""Ops commands: ``offerflow publishers`` and ``offerflow tokens`` (admin token)."""

from __future__ import annotations

from typing import Annotated

import typer

from offerflow_cli.common import Cx, command
from offerflow_cli.exits import Exit
from offerflow_cli.output import cell

Name = Annotated[str | None, typer.Option("--name", help="Display name.")]
ForPublisher = Annotated[str, typer.Option("--publisher", help="Publisher id.")]


def create_publisher(cx: Cx, publisher_id: Annotated[str, typer.Argument(metavar="ID", help="Publisher id.")],
                     name: Name = None) -> int:
    """Create a publisher account."""
    with cx.client() as c:
        body = c.create_publisher(publisher_id, name)
    cx.out.line(f"Created publisher {publisher_id}.")
    if cx.out.json:
        cx.out.doc(body)
    return Exit.OK


def list_publishers(cx: Cx) -> int:
    """List publisher accounts."""
    with cx.client() as c:
        pubs = c.list_publishers()
    rows = [[cell(p.get("publisherId")), cell(p.get("displayName")), cell(p.get("createdAt"))] for p in pubs]
    cx.out.table(pubs, [("publisherId", ""), ("displayName", ""), ("createdAt", "")], rows)
    return Exit.OK


def create_token(cx: Cx, publisher: ForPublisher, name: Name = None) -> int:
    """Mint a publisher token; the secret is printed once, alone on stdout."""
    with cx.client() as c:
        body = c.create_token(publisher, name)
    if cx.out.json:
        cx.out.doc(body)
        return Exit.OK
    cx.out.note(f"Token {body.get('id')} for publisher {publisher} ({body.get('name')}); it is shown only once, "
                "store it now:")
    # Alone on stdout so that TOKEN=$(offerflow tokens create ...) works.
    cx.out.line(str(body.get("token", "")))
    return Exit.OK


def list_tokens(cx: Cx, publisher: ForPublisher) -> int:
    """List a publisher's tokens (never their secrets)."""
    with cx.client() as c:
        tokens = c.list_tokens(publisher)
    rows = [[cell(t.get("id")), cell(t.get("name")), cell(t.get("createdAt")), cell(t.get("revokedAt"))]
            for t in tokens]
    cx.out.table(tokens, [("id", ""), ("name", ""), ("createdAt", ""), ("revokedAt", "")], rows)
    return Exit.OK


def revoke_token(cx: Cx, token_id: Annotated[str, typer.Argument(metavar="TOKEN_ID", help="Token id.")]) -> int:
    """Revoke a token; calls made with it are refused from now on."""
    with cx.client() as c:
        c.revoke_token(token_id)
    cx.out.line(f"Revoked token {token_id}.")
    if cx.out.json:
        cx.out.doc({"id": token_id, "revoked": True})
    return Exit.OK


def build_publishers() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True, help="Publisher accounts (admin).")
    app.command("create")(command(admin=True)(create_publisher))
    app.command("list")(command(admin=True)(list_publishers))
    return app


def build_tokens() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True, help="Publisher API tokens (admin).")
    app.command("create")(command(admin=True)(create_token))
    app.command("list")(command(admin=True)(list_tokens))
    app.command("revoke")(command(admin=True)(revoke_token))
    return app
