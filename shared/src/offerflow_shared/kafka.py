"""Kafka helpers that are not Faust: topic creation and a plain aiokafka sink (status-api, tools)."""

from __future__ import annotations

import contextlib

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from offerflow_shared.codec import Headers
from offerflow_shared.topics import PARTITIONS, all_topic_names


async def ensure_topics(bootstrap: str, *, partitions: int = PARTITIONS, replication_factor: int = 1) -> list[str]:
    """Create every topic of the contract that does not exist yet; returns the ones created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [n for n in all_topic_names() if n not in existing]
        if wanted:
            # Another starter may create them at the same moment; either way they exist afterwards.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(n, num_partitions=partitions, replication_factor=replication_factor) for n in wanted]
                )
        return wanted
    finally:
        await admin.close()


class KafkaSink:
    def __init__(self, bootstrap: str) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(self, topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        await self._producer.send_and_wait(topic, value=value, key=key, headers=headers)
