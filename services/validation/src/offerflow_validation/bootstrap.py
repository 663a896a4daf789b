"""Composition root: settings → adapters → handlers → dispatcher → Faust app. Nothing runs at import."""

from __future__ import annotations

import faust
from offerflow_shared import logs
from offerflow_shared.runtime import Dispatcher, Sink
from offerflow_shared.worker import FaustSink, run

from offerflow_validation import agents, app, handlers
from offerflow_validation.settings import Settings


def build_dispatcher(sink: Sink) -> Dispatcher:
    return Dispatcher(service=app.SERVICE, out_topic=app.EMITS, handlers=handlers.build_handlers(), sink=sink)


def build(settings: Settings) -> faust.App:
    faust_app = app.make_app(settings)
    agents.register(faust_app, build_dispatcher(FaustSink(faust_app)), concurrency=settings.concurrency)
    return faust_app


def main() -> None:
    settings = Settings()
    logs.configure(app.SERVICE, settings.common.log_level)
    run(build(settings), settings.common.log_level.lower())
