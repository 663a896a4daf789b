"""Composition root: settings → adapters → ``Deps`` → the shared worker runtime. Nothing runs at import."""

from __future__ import annotations

from datetime import timedelta

import faust

from offerflow_contract import topics
from offerflow_contract.events import PublishRequested, ValidationFailed
from offerflow_shared import service
from offerflow_shared.egress_policy import EgressPolicy
from offerflow_validation import handlers
from offerflow_validation.adapters.artifacts import ArtifactFetcher, reader
from offerflow_validation.settings import Settings

SPEC = service.stage("validation", (topics.PUBLISHING.name,), topics.VALIDATION.name,
                     ends_run_with={PublishRequested: ValidationFailed})


def build_fetcher(settings: Settings) -> ArtifactFetcher:
    # The one egress policy (offerflow_shared.egress): public targets, the named exceptions, file:// only under
    # the development file root, in the publisher's own folder.
    return reader(EgressPolicy.from_settings(settings.common), max_bytes=settings.artifact_max_bytes,
                 timeout=settings.artifact_timeout, user_agent="offerflow-validation")


def build(settings: Settings) -> faust.App:
    deps = handlers.Deps(build_fetcher(settings), timedelta(hours=settings.min_url_validity_hours))
    return service.build(SPEC, handlers.HANDLERS, settings, deps).app


def main() -> None:
    service.main(SPEC, Settings, build)
