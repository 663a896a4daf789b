"""Composition root: settings → adapters → ``Deps`` → the shared worker runtime. Nothing runs at import."""

from __future__ import annotations

from datetime import timedelta

import faust
import httpx

from offerflow_contract import topics
from offerflow_contract.events import PublishRequested, ValidationFailed
from offerflow_shared import service
from offerflow_validation import handlers
from offerflow_validation.adapters.artifacts import ArtifactFetcher, FileFetcher, HttpFetcher, SchemeRouter
from offerflow_validation.settings import Settings

SPEC = service.stage("validation", (topics.PUBLISHING.name,), topics.VALIDATION.name,
                     ends_run_with={PublishRequested: ValidationFailed})


def build_fetcher(settings: Settings) -> ArtifactFetcher:
    client = httpx.AsyncClient(timeout=settings.artifact_timeout,
                               headers={"User-Agent": "offerflow-validation"})
    web = HttpFetcher(client, max_bytes=settings.artifact_max_bytes, timeout=settings.artifact_timeout,
                      allow_private=settings.allow_private_targets)
    fetchers: dict[str, ArtifactFetcher] = {"https": web, "http": web}
    if settings.allow_file_urls:
        fetchers["file"] = FileFetcher(max_bytes=settings.artifact_max_bytes)
    return SchemeRouter(fetchers)


def build(settings: Settings) -> faust.App:
    deps = handlers.Deps(build_fetcher(settings), timedelta(hours=settings.min_url_validity_hours))
    return service.build(SPEC, handlers.HANDLERS, settings, deps).app


def main() -> None:
    service.main(SPEC, Settings, build)
