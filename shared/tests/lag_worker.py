"""A worker on the shared runtime whose agent holds each record until a gate file exists (run by test_lag_broker).

Usage: ``python lag_worker.py SERVICE TOPIC WEB_PORT GATE_FILE`` (bootstrap from OFFERFLOW_KAFKA_BOOTSTRAP).
The consumer keeps fetching while the agent waits, so the group's committed offset stays where it was and the
lag on ``/metrics`` is what was produced meanwhile. The process also counts every Kafka client it creates and
every broker connection it opens (``lagtest_kafka_clients_total``, ``lagtest_kafka_connections_total``), so the
test can tell that scraping opens none.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import aiokafka.client
from prometheus_client import Counter

from offerflow_shared.worker import create_app, run

CLIENTS = Counter("lagtest_kafka_clients", "Kafka clients (consumer, producer, admin) this process created")
CONNECTIONS = Counter("lagtest_kafka_connections", "Connections this process opened to a broker")


def count_kafka_clients() -> None:
    make_client, connect = aiokafka.client.AIOKafkaClient.__init__, aiokafka.client.create_conn

    def counted_client(self: Any, *args: Any, **kwargs: Any) -> None:
        CLIENTS.inc()
        make_client(self, *args, **kwargs)

    async def counted_connect(*args: Any, **kwargs: Any) -> Any:
        CONNECTIONS.inc()
        return await connect(*args, **kwargs)

    aiokafka.client.AIOKafkaClient.__init__ = counted_client
    aiokafka.client.create_conn = counted_connect


def main() -> None:
    count_kafka_clients()
    service, topic, port, gate = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    app = create_app(service, bootstrap=os.environ["OFFERFLOW_KAFKA_BOOTSTRAP"], web_port=port)

    opened = asyncio.Event()

    async def watch_gate() -> None:
        if await asyncio.to_thread(gate.exists):
            opened.set()

    async def hold(stream: Any) -> None:
        async for _ in stream.events():
            await opened.wait()

    app.timer(0.2, name=f"{service}-gate")(watch_gate)

    app.agent(app.topic(topic, key_type=bytes, value_type=bytes), name=f"{service}-agent")(hold)
    run(app, "warning")


if __name__ == "__main__":
    main()
