"""Thin: subscribe the dispatcher (decode → handler → emit) to the consumed topics."""

from __future__ import annotations

import faust

from offerflow_packaging.app import CONSUMES
from offerflow_shared.runtime import Dispatcher
from offerflow_shared.worker import attach


def register(app: faust.App, dispatcher: Dispatcher, *, concurrency: int) -> None:
    attach(app, CONSUMES, dispatcher, concurrency=concurrency)
