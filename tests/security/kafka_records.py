"""Every record of a set of topics, read to the end: how the security suites look at what the pipeline carried."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from offerflow_contract import topics


def read_records(bootstrap: str, names: Iterable[str] | None = None, *,
                 seconds: float = 120) -> list[ConsumerRecord[bytes, bytes]]:
    """The records of ``names``, from the beginning to the end offsets seen at the start; fails if the end is not
    reached within ``seconds``. Without ``names``: every topic on the broker but Kafka's own ``__`` ones, Faust's
    included, which must hold every contract topic and its dead letters."""

    async def read() -> list[ConsumerRecord[bytes, bytes]]:
        lister = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        await lister.start()
        try:
            present = await lister.topics()
        finally:
            await lister.stop()
        if names is None:
            wanted = sorted(t for t in present if not t.startswith("__"))
            missing = sorted(set(topics.all_topic_names(with_dlq=True)) - present)
            assert not missing, f"contract topics not on the broker: {missing}"
        else:
            wanted = list(names)
        missing = [t for t in wanted if t not in present]
        assert not missing, f"topics not on the broker: {missing}"
        # Subscribed without a group, the consumer is given every partition of every topic named.
        consumer = AIOKafkaConsumer(*wanted, bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            deadline = time.monotonic() + seconds
            for _ in range(int(seconds / 0.2)):  # the assignment arrives with the first metadata
                if {tp.topic for tp in consumer.assignment()} == set(wanted):
                    break
                await asyncio.sleep(0.2)
            parts = sorted(consumer.assignment())
            assert {tp.topic for tp in parts} == set(wanted), "not every topic was assigned"
            ends = await consumer.end_offsets(parts)
            out: list[ConsumerRecord[bytes, bytes]] = []

            async def behind() -> bool:
                return any([await consumer.position(tp) < ends[tp] for tp in parts])

            while time.monotonic() < deadline and await behind():
                for records in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
                    out += records
            assert not await behind(), "topics not read to the end"
            return out
        finally:
            await consumer.stop()

    return asyncio.run(read())
