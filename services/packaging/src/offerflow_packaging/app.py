"""The Faust app and the topics this service reads and writes."""

from __future__ import annotations

import faust

from offerflow_packaging.settings import Settings
from offerflow_shared import topics
from offerflow_shared.worker import create_app

SERVICE = "packaging"
CONSUMES = (topics.PROVISIONING.name, topics.PUBLISHING.name)
EMITS = topics.PACKAGING.name


def make_app(settings: Settings) -> faust.App:
    return create_app(
        SERVICE, bootstrap=settings.common.kafka_bootstrap, web_port=settings.web_port,
        replication_factor=settings.common.kafka_replication_factor,
    )
