"""Topic names. Each service writes only its own topic; every topic is keyed by offer id."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

PARTITIONS = 6
DLQ_SUFFIX = ".dlq"

# Kafka is the source of truth and the read model is rebuilt from the beginning of every topic, so no topic
# (nor its dead letters, which ops may replay months later) may drop events by age or size. Kafka's
# defaults (7 days, unbounded size) would silently lose a week-old history on the next rebuild.
TOPIC_CONFIGS: Mapping[str, str] = MappingProxyType({"retention.ms": "-1", "retention.bytes": "-1"})


@dataclass(frozen=True)
class Topic:
    name: str
    writer: str
    description: str

    @property
    def dlq(self) -> str:
        return self.name + DLQ_SUFFIX


PUBLISHING = Topic(
    "offerflow.publishing", "status-api", "Publisher commands accepted: drafts, publish, go live, cancel"
)
VALIDATION = Topic("offerflow.validation", "validation", "Validate Pre-Requisites step")
CERTIFICATION = Topic("offerflow.certification", "certification", "Certification step")
PROVISIONING = Topic("offerflow.provisioning", "provisioning", "Provisioning step (replicas per region)")
STAGING = Topic("offerflow.staging", "staging", "Staging deployment step (one boot per plan)")
PACKAGING = Topic("offerflow.packaging", "packaging", "Packaging, lead registration, preview and go-live")
NOTIFICATIONS = Topic("offerflow.notifications", "notifier", "Mails sent to publishers")

ALL: tuple[Topic, ...] = (PUBLISHING, VALIDATION, CERTIFICATION, PROVISIONING, STAGING, PACKAGING, NOTIFICATIONS)


def all_topic_names(*, with_dlq: bool = True) -> list[str]:
    names = [t.name for t in ALL]
    if with_dlq:
        names += [t.dlq for t in ALL]
    return names
