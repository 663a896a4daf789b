"""Thin: subscribe the dispatcher (decode → handler → emit) to the consumed topics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import faust

from offerflow_certification.app import CONSUMES
from offerflow_shared.runtime import Dispatcher
from offerflow_shared.worker import attach


def register(app: faust.App, dispatcher: Dispatcher, *, concurrency: int,
             on_start: Callable[[], Awaitable[Any]] | None = None) -> None:
    attach(app, CONSUMES, dispatcher, concurrency=concurrency, on_start=on_start)
