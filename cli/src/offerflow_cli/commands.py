"""The command groups of `offerflow`; add a group's module here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer


def groups() -> dict[str, typer.Typer]:
    found: dict[str, typer.Typer] = {}
    from offerflow_cli import admin, offers, ops_dlq, support

    found["offers"] = offers.build()
    found["publishers"] = admin.build_publishers()
    found["tokens"] = admin.build_tokens()
    found["support"] = support.build()
    found["dlq"] = ops_dlq.build()
    from offerflow_cli import ops_projection

    found["projection"] = ops_projection.build()
    return found


def top_level() -> list[Callable[..., Any]]:
    from offerflow_cli.certify import certify
    from offerflow_cli.ops_trace import tail, trace

    found: list[Callable[..., Any]] = [certify, trace, tail]
    return found
