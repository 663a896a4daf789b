"""Composition root: settings → adapters → handlers → dispatcher → Faust app. Nothing runs at import."""

from __future__ import annotations

import faust
import httpx

from offerflow_shared import logs
from offerflow_shared.events import PublishRequested, ValidationFailed
from offerflow_shared.failures import stage_failures
from offerflow_shared.faults import Faults
from offerflow_shared.runtime import Dispatcher, Sink
from offerflow_shared.worker import FaustSink, run
from offerflow_validation import agents, app, handlers
from offerflow_validation.adapters.artifacts import ArtifactFetcher, FileFetcher, HttpFetcher, SchemeRouter
from offerflow_validation.settings import Settings


def build_fetcher(settings: Settings) -> ArtifactFetcher:
    client = httpx.AsyncClient(timeout=settings.artifact_timeout,
                               headers={"User-Agent": "offerflow-validation"})
    web = HttpFetcher(client, max_bytes=settings.artifact_max_bytes, timeout=settings.artifact_timeout,
                      allow_private=settings.allow_private_targets)
    fetchers: dict[str, ArtifactFetcher] = {"https": web, "http": web}
    if settings.allow_file_urls:
        fetchers["file"] = FileFetcher(max_bytes=settings.artifact_max_bytes)
    return SchemeRouter(fetchers)


# What the run ends with when the runtime gives up on an input (see offerflow_shared.failures).
FAILURES = stage_failures({PublishRequested.event_type: ValidationFailed})


def build_dispatcher(sink: Sink, fetcher: ArtifactFetcher, *, step_timeout: float | None = None,
                     faults: Faults | None = None) -> Dispatcher:
    return Dispatcher(service=app.SERVICE, out_topic=app.EMITS, handlers=handlers.build_handlers(fetcher), sink=sink,
                      failure=FAILURES, step_timeout=step_timeout, faults=faults)


def build(settings: Settings) -> faust.App:
    faust_app = app.make_app(settings)
    dispatcher = build_dispatcher(FaustSink(faust_app), build_fetcher(settings),
                                  step_timeout=settings.step_timeout_seconds,
                                  faults=Faults(settings.common.faults_dir, app.SERVICE))
    agents.register(faust_app, dispatcher, concurrency=settings.concurrency)
    return faust_app


def main() -> None:
    settings = Settings()
    logs.configure(app.SERVICE, settings.common.log_level)
    run(build(settings), settings.common.log_level.lower())
