"""Consumer lag on a real worker and broker: N records behind a held agent show as lag N, then 0; scraping
creates no Kafka client and opens no connection."""

from __future__ import annotations

import os
import re
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.children import free_port, spawned

pytestmark = pytest.mark.integration
BOOTSTRAP = os.environ.get("OFFERFLOW_KAFKA_BOOTSTRAP")
N = 7


@dataclass(frozen=True)
class Worker:
    url: str
    pid: int
    group: str
    topic: str
    gate: Path


@pytest.fixture
async def topic() -> str:
    if not BOOTSTRAP:
        pytest.skip("needs the broker of `make test` (OFFERFLOW_KAFKA_BOOTSTRAP)")
    name = f"offerflow.lagtest-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    return name


@pytest.fixture
def worker(topic: str, tmp_path: Path) -> Iterator[Worker]:
    port = free_port()
    service = f"lagtest-{uuid.uuid4().hex[:8]}"
    gate = tmp_path / "gate"
    with spawned([sys.executable, str(Path(__file__).with_name("lag_worker.py")), service, topic, str(port),
                  str(gate)], tmp_path / "worker.log", env={**os.environ, "PYTHONUNBUFFERED": "1"},
                 cwd=tmp_path) as proc:
        yield Worker(f"http://127.0.0.1:{port}", proc.pid, f"offerflow-{service}", topic, gate)


def value(text: str, name: str, w: Worker) -> float | None:
    m = re.search(rf'^{name}{{group="{re.escape(w.group)}",partition="0",topic="{re.escape(w.topic)}"}} (\S+)$',
                  text, re.M)
    return float(m.group(1)) if m else None


def wait_for(w: Worker, name: str, expected: float, timeout: float = 90) -> str:
    deadline, text = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        try:
            text = httpx.get(f"{w.url}/metrics", timeout=5).text
        except httpx.HTTPError:
            text = ""
        if value(text, name, w) == expected:
            return text
        time.sleep(0.5)
    lines = [line for line in text.splitlines() if w.group in line]
    raise AssertionError(f"{name} of {w.group} never reached {expected}: {lines}")


def counters(w: Worker) -> tuple[float, float]:
    text = httpx.get(f"{w.url}/metrics", timeout=5).text
    found = {m.group(1): float(m.group(2))
             for m in re.finditer(r"^(lagtest_kafka_clients_total|lagtest_kafka_connections_total) (\S+)$", text, re.M)}
    return found["lagtest_kafka_clients_total"], found["lagtest_kafka_connections_total"]


async def produce(topic: str, n: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all")
    await producer.start()
    try:
        for i in range(n):
            await producer.send_and_wait(topic, f"record-{i}".encode(), key=b"offer-lag")
    finally:
        await producer.stop()


async def test_lag_is_what_was_produced_behind_a_held_agent_then_zero(worker: Worker) -> None:
    wait_for(worker, "offerflow_consumer_lag", 0)  # assigned, nothing to read yet
    await produce(worker.topic, N)
    text = wait_for(worker, "offerflow_consumer_lag", N)
    assert value(text, "offerflow_consumer_end_offset", worker) == N
    assert value(text, "offerflow_consumer_committed_offset", worker) is None  # the group never committed

    worker.gate.touch()
    text = wait_for(worker, "offerflow_consumer_lag", 0)
    assert value(text, "offerflow_consumer_committed_offset", worker) == N
    assert value(text, "offerflow_consumer_end_offset", worker) == N


def test_fifty_scrapes_create_no_kafka_client_and_open_no_connection(worker: Worker) -> None:
    wait_for(worker, "offerflow_consumer_lag", 0)
    clients, connections = counters(worker)
    assert clients >= 2 and connections >= 1, "the worker's own consumer and producer are counted"
    with httpx.Client(timeout=5) as client:
        for _ in range(50):
            assert client.get(f"{worker.url}/metrics").status_code == 200
    assert counters(worker) == (clients, connections)
