"""The command groups of `offerflow`; add a group's module here.

The plain install is a light publisher tool (the API commands). The certifier and the operators' tools come with
extras (``offerflow-cli[certify]``, ``offerflow-cli[ops]``); without them their commands still show in ``--help``
and say which extra to install, instead of the whole CLI failing on an import.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import typer
from rich.markup import escape

from offerflow_cli.exits import Exit

_LENIENT = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


# name, module, extra, what the extra brings that the module only imports when it runs
_OPTIONAL_GROUPS = (("dlq", "ops_dlq", "ops", ()), ("projection", "ops_projection", "ops", ("offerflow_status_api",)))
_OPTIONAL_COMMANDS = (("certify", "certify", "certify", ()), ("stage", "stage", "stage", ()),
                      ("trace", "ops_trace", "ops", ()), ("tail", "ops_trace", "ops", ()))


def groups() -> dict[str, typer.Typer | Callable[..., Any]]:
    """Command groups; a group whose extra is missing is a single command that says which extra to install."""
    from offerflow_cli import admin, offers, support

    found: dict[str, typer.Typer | Callable[..., Any]] = {
        "offers": offers.build(),
        "publishers": admin.build_publishers(),
        "tokens": admin.build_tokens(),
        "support": support.build(),
    }
    for name, module, extra, needs in _OPTIONAL_GROUPS:
        try:
            found[name] = _load(module, needs).build()
        except ImportError as exc:
            found[name] = _missing(name, extra, exc)
    return found


def top_level() -> list[Callable[..., Any]]:
    found: list[Callable[..., Any]] = []
    for name, module, extra, needs in _OPTIONAL_COMMANDS:
        try:
            found.append(getattr(_load(module, needs), name))
        except ImportError as exc:
            found.append(_missing(name, extra, exc))
    return found


def _load(module: str, needs: tuple[str, ...]) -> Any:
    for required in needs:
        importlib.import_module(required)
    return importlib.import_module(f"offerflow_cli.{module}")


def _missing(name: str, extra: str, exc: ImportError) -> Callable[..., Any]:
    def command(ctx: typer.Context) -> None:
        typer.echo(f"offerflow {name} needs the '{extra}' extra: pip install 'offerflow-cli[{extra}]' "
                   f"(missing: {exc.name or exc})", err=True)
        raise typer.Exit(Exit.USAGE)

    command.__name__ = name
    command.__doc__ = escape(f"Needs the '{extra}' extra: pip install 'offerflow-cli[{extra}]'.")  # not markup
    command.__dict__["context_settings"] = _LENIENT
    return command
