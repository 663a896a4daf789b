"""Thin: subscribe the projection dispatcher to every topic."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import faust

from offerflow_shared.runtime import Dispatcher
from offerflow_shared.worker import attach
from offerflow_status_api.app import CONSUMES


def register(app: faust.App, dispatcher: Dispatcher, on_start: Callable[[], Awaitable[Any]]) -> None:
    attach(app, CONSUMES, dispatcher, concurrency=1, on_start=on_start)
