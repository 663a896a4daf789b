"""Upcasters: an old ``schema_version`` of an event is rewritten, step by step, into the current one on read.

Topics keep every event forever (they are the source of truth), so a payload written years ago must still be
read by today's code. When an event's shape changes, its class gets ``schema_version = n + 1`` and one upcaster
``(event_type, n) -> payload`` is registered here; the envelope applies the chain until it reaches a version that
has a class. Old messages are never rewritten on the topic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Payload = dict[str, Any]
Upcaster = Callable[[Payload], Payload]

_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register ``fn`` as the step from ``from_version`` to ``from_version + 1`` of ``event_type``."""

    def decorate(fn: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in _UPCASTERS and _UPCASTERS[key] is not fn:
            raise RuntimeError(f"two upcasters for {event_type} v{from_version}")
        _UPCASTERS[key] = fn
        return fn

    return decorate


def upcast(event_type: str, version: int, payload: Payload, known: Callable[[str, int], bool]) -> tuple[int, Payload]:
    """Apply upcasters from ``version`` until ``known(event_type, v)``; the input is returned as is when none apply."""
    while not known(event_type, version):
        step = _UPCASTERS.get((event_type, version))
        if step is None:
            break
        payload = step(dict(payload))
        version += 1
    return version, payload


def registered_upcasters() -> dict[tuple[str, int], Upcaster]:
    return dict(_UPCASTERS)
