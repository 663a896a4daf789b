"""Entry point: one Typer app, one module per command group (each registers itself here)."""

from __future__ import annotations

import typer

from offerflow_cli.exits import EPILOG

app = typer.Typer(name="offerflow", no_args_is_help=True, add_completion=False,
                  help="Publish marketplace VM offers with Offerflow.", epilog=EPILOG)
_registered = False


def _register() -> None:
    global _registered
    if _registered:
        return
    _registered = True
    # Imported here so that `--help` of one group never pays for another's imports at module load.
    from offerflow_cli import commands

    for name, sub in commands.groups().items():
        if isinstance(sub, typer.Typer):
            app.add_typer(sub, name=name)
        else:  # a group whose extra is not installed
            app.command(name=name, context_settings=sub.__dict__.get("context_settings"))(sub)
    for fn in commands.top_level():
        # A command whose extra is not installed takes any arguments, to say which extra it needs.
        app.command(context_settings=fn.__dict__.get("context_settings"))(fn)


def main() -> None:
    _register()
    app()
