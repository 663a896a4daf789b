"""``offerflow support open``: a support request about an offer (optionally one run)."""

from __future__ import annotations

from typing import Annotated

import typer

from offerflow_cli.common import Cx, command
from offerflow_cli.exits import Exit


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


def build() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True, help="Support requests.")
    app.command("open")(command()(open_request))
    return app
