"""Dead letters: ``<topic>.dlq`` with Kafka Connect's error header names, so stock tools understand them."""

from __future__ import annotations

from dataclasses import dataclass

from offerflow_contract.codec import Headers
from offerflow_contract.topics import DLQ_SUFFIX


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    error_class: str
    error_message: str
    consumer: str

    @property
    def dlq_topic(self) -> str:
        return self.topic + DLQ_SUFFIX

    def headers(self) -> Headers:
        return [
            ("__connect.errors.topic", self.topic.encode()),
            ("__connect.errors.partition", str(self.partition).encode()),
            ("__connect.errors.offset", str(self.offset).encode()),
            ("__connect.errors.exception.class.name", self.error_class.encode()),
            ("__connect.errors.exception.message", self.error_message[:4000].encode()),
            ("offerflow.dlq.consumer", self.consumer.encode()),
        ]
