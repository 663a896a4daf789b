"""Composition root: settings → adapters → handlers → dispatcher → Faust app. Nothing runs at import."""

from __future__ import annotations

import faust
from offerflow_shared import logs
from offerflow_shared.runtime import Dispatcher, Sink
from offerflow_shared.worker import FaustSink, run

from offerflow_certification import agents, app, handlers
from offerflow_certification.adapters.source import DiskSource, FileDiskSource
from offerflow_certification.settings import Settings


def build_dispatcher(sink: Sink, source: DiskSource) -> Dispatcher:
    return Dispatcher(service=app.SERVICE, out_topic=app.EMITS, handlers=handlers.build_handlers(source), sink=sink)


def build(settings: Settings) -> faust.App:
    faust_app = app.make_app(settings)
    source = FileDiskSource(max_bytes=settings.max_disk_bytes, chunk_bytes=settings.chunk_bytes)
    agents.register(faust_app, build_dispatcher(FaustSink(faust_app), source), concurrency=settings.concurrency)
    return faust_app


def main() -> None:
    settings = Settings()
    logs.configure(app.SERVICE, settings.common.log_level)
    run(build(settings), settings.common.log_level.lower())
