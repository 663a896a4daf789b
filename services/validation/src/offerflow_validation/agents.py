"""Thin: subscribe the dispatcher (decode → handler → emit) to the consumed topics."""

from __future__ import annotations

import faust

from offerflow_shared.runtime import Dispatcher
from offerflow_shared.worker import attach
from offerflow_validation.app import CONSUMES


def register(app: faust.App, dispatcher: Dispatcher, *, concurrency: int) -> None:
    attach(app, CONSUMES, dispatcher, concurrency=concurrency)
