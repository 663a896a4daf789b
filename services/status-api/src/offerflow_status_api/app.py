"""The projection's Faust app: it reads every topic of the contract; its step supervisor writes to
``offerflow.publishing`` (the status-api's own topic)."""

from __future__ import annotations

import faust

from offerflow_shared import topics
from offerflow_shared.worker import create_app
from offerflow_status_api.settings import Settings

SERVICE = "status-projection"
CONSUMES = tuple(t.name for t in topics.ALL)
EMITS = topics.PUBLISHING.name  # the supervisor's step_overdue / step_timed_out


def make_app(settings: Settings) -> faust.App:
    return create_app(SERVICE, bootstrap=settings.common.kafka_bootstrap, web_port=settings.projection_web_port,
                      replication_factor=settings.common.kafka_replication_factor)
