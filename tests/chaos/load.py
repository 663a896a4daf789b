"""Where the writes go: the broker leading the busiest partitions, the one whose crash hurts most right now."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

Writes = Mapping[tuple[str, int], int]  # records written per (topic, partition) since the previous sample


def busiest_leader(leaders: Mapping[str, Mapping[int, int]], writes: Writes) -> int | None:
    """The broker leading the partitions that took the most writes (ties: the lowest node id); None if no
    partition has a leader (a leader of -1 is none)."""
    load: dict[int, int] = {}
    for topic, parts in leaders.items():
        for partition, node in parts.items():
            if node >= 0:
                load[node] = load.get(node, 0) + writes.get((topic, partition), 0)
    return min(load, key=lambda n: (-load[n], n)) if load else None


class WriteSampler:
    """Records written per partition since the previous call, from the partitions' end offsets: what makes a
    partition "busy" right now, not since the topic was created."""

    def __init__(self, bootstrap: str, topics: Sequence[str], partitions: int) -> None:
        self.bootstrap, self.topics, self.partitions = bootstrap, list(topics), partitions
        self.previous: dict[tuple[str, int], int] = {}

    def __call__(self) -> Writes:
        ends = asyncio.run(self._end_offsets())
        writes = {k: n - self.previous.get(k, 0) for k, n in ends.items()}
        self.previous = ends
        return writes

    async def _end_offsets(self) -> dict[tuple[str, int], int]:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                                    request_timeout_ms=15000)
        await consumer.start()
        try:
            parts = [TopicPartition(t, p) for t in self.topics for p in range(self.partitions)]
            ends = await asyncio.wait_for(consumer.end_offsets(parts), 30)
        finally:
            await consumer.stop()
        return {(tp.topic, tp.partition): int(n) for tp, n in ends.items()}

