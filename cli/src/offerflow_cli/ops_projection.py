"""`offerflow projection rebuild`: drop the read model and replay every topic from the start."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer

from offerflow_cli.config import load_endpoints


def build() -> typer.Typer:
    app = typer.Typer(help="The status projection's read model.", no_args_is_help=True)

    @app.command()
    def rebuild(
        dsn: Annotated[str | None, typer.Option(help="PostgreSQL DSN of the database's owner (default: "
                                                     "OFFERFLOW_DATABASE_MIGRATION_DSN, OFFERFLOW_DATABASE_DSN "
                                                     "or .run/endpoints.json)")] = None,
        bootstrap: Annotated[str | None, typer.Option(help="Kafka bootstrap (default: OFFERFLOW_KAFKA_BOOTSTRAP "
                                                           "or .run/endpoints.json)")] = None,
        force: Annotated[bool, typer.Option(help="Rebuild even if the projection seems to be running")] = False,
    ) -> None:
        """Drop the read model and rebuild it from the topics (stop the projection first)."""
        from offerflow_status_api.rebuild import projection_is_running
        from offerflow_status_api.rebuild import rebuild as run_rebuild

        file = load_endpoints()
        # The owner's DSN first: emptying the read model (TRUNCATE) is beyond the services' role.
        dsn = (dsn or os.environ.get("OFFERFLOW_DATABASE_MIGRATION_DSN") or os.environ.get("OFFERFLOW_DATABASE_DSN")
               or file.get("postgres_owner_dsn") or file.get("postgres_dsn"))
        bootstrap = bootstrap or os.environ.get("OFFERFLOW_KAFKA_BOOTSTRAP") or file.get("kafka_bootstrap")
        if not dsn or not bootstrap:
            typer.echo("Need --dsn and --bootstrap (or the environment / .run/endpoints.json).", err=True)
            raise typer.Exit(2)
        if not force and asyncio.run(projection_is_running(bootstrap)):
            typer.echo("The projection is running (its consumer group has members): stop it first, "
                       "or pass --force.", err=True)
            raise typer.Exit(14)
        stats = asyncio.run(run_rebuild(dsn, bootstrap))
        typer.echo(f"rebuilt from {stats.records} records: {stats.events} events, {stats.runs} runs, "
                   f"{stats.offers} offers, {stats.skipped} undecodable skipped, in {stats.seconds:.1f} s")

    return app
