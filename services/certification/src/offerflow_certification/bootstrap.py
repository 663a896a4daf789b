"""Composition root: settings → adapters → handlers → dispatcher → Faust app. Nothing runs at import."""

from __future__ import annotations

from pathlib import Path

import faust

from offerflow_certification import agents, app, handlers
from offerflow_certification.adapters.pg_store import PostgresReportStore
from offerflow_certification.adapters.source import DiskSource, FileDiskSource, HttpDiskSource, RoutingDiskSource
from offerflow_certification.adapters.store import LateReportStore, ReportStore
from offerflow_certification.settings import Settings
from offerflow_shared import db, logs
from offerflow_shared.events import CertificationFailed, ValidationPassed
from offerflow_shared.failures import stage_failures
from offerflow_shared.faults import Faults
from offerflow_shared.runtime import Dispatcher, Sink
from offerflow_shared.worker import FaustSink, run

MIGRATIONS = Path(__file__).parent / "migrations"


def build_source(settings: Settings) -> DiskSource:
    limits = {"max_bytes": settings.max_disk_bytes, "chunk_bytes": settings.chunk_bytes}
    return RoutingDiskSource(
        FileDiskSource(**limits),
        HttpDiskSource(**limits, spool_dir=settings.spool_dir, connect_timeout=settings.http_connect_timeout,
                       read_timeout=settings.http_read_timeout,
                       allow_private=settings.allow_private_targets))


# What the run ends with when the runtime gives up on an input (see offerflow_shared.failures).
FAILURES = stage_failures({ValidationPassed.event_type: CertificationFailed})


def build_dispatcher(sink: Sink, source: DiskSource, store: ReportStore, *, step_timeout: float | None = None,
                     faults: Faults | None = None) -> Dispatcher:
    return Dispatcher(service=app.SERVICE, out_topic=app.EMITS, handlers=handlers.build_handlers(source, store),
                      sink=sink, failure=FAILURES, step_timeout=step_timeout, faults=faults)


def build(settings: Settings) -> faust.App:
    faust_app = app.make_app(settings)
    store = LateReportStore()

    async def on_start() -> None:
        # The pool belongs to the worker's event loop, so it is made here and not at build time.
        store.bind(PostgresReportStore(
            await db.open_migrated(settings.common.database_dsn, app.SERVICE, MIGRATIONS)))

    dispatcher = build_dispatcher(FaustSink(faust_app), build_source(settings), store,
                                  step_timeout=settings.step_timeout_seconds,
                                  faults=Faults(settings.common.faults_dir, app.SERVICE))
    agents.register(faust_app, dispatcher,
                    concurrency=settings.concurrency, on_start=on_start)
    return faust_app


def main() -> None:
    settings = Settings()
    logs.configure(app.SERVICE, settings.common.log_level)
    run(build(settings), settings.common.log_level.lower())
