"""The ``offers`` command group."""

from __future__ import annotations

import typer

from offerflow_cli import offers_docs, offers_runs


def build() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True, help="Offers of one publisher: documents, runs, status.")
    offers_docs.register(app)
    offers_runs.register(app)
    return app
