"""The read model is a function of the topics: dropping it and replaying every topic gives it back exactly."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from stack import BIN, Stack

from offerflow_contract import topics
from tests.e2e.client import Api, offer_doc, unique
from tests.images.builder import build_linux_vhd, build_variant

pytestmark = pytest.mark.e2e

DUMP = {
    "event_archive": "SELECT event_id, event_type, schema_version, offer_id, publisher_id, run_id, occurred_at, "
                     "producer, correlation_id, causation_id, payload FROM event_archive ORDER BY event_id",
    "runs": "SELECT * FROM runs ORDER BY run_id",
    "offers": "SELECT * FROM offers ORDER BY publisher_id, offer_id",
    "offer_versions": "SELECT * FROM offer_versions ORDER BY publisher_id, offer_id, version",
}


async def dump(dsn: str) -> dict[str, list[dict[str, Any]]]:
    conn = await asyncpg.connect(dsn)
    try:
        return {t: [json.loads(json.dumps(dict(r), default=str)) for r in await conn.fetch(q)]
                for t, q in DUMP.items()}
    finally:
        await conn.close()


async def projection_lag(bootstrap: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets("offerflow-status-projection")
        parts = [TopicPartition(t.name, p) for t in topics.ALL for p in range(topics.PARTITIONS)]
        end = await consumer.end_offsets(parts)
        return sum(end[tp] - (committed[tp].offset if tp in committed else 0) for tp in parts)
    finally:
        await consumer.stop()
        await admin.close()


def wait_quiet(stack: Stack, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    quiet_since = None
    while time.monotonic() < deadline:
        lag = asyncio.run(projection_lag(stack.kafka_bootstrap))
        if lag == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 4:
                return
        else:
            quiet_since = None
        time.sleep(0.5)
    raise AssertionError("the projection never caught up")


def test_rebuild_from_the_topics_gives_the_same_read_model(stack: Stack, e2e_token: str, tmp_path: Path) -> None:
    api = Api(stack.api_url, e2e_token)
    good, bad = unique("rebuild-ok"), unique("rebuild-bad")
    api.put(good, offer_doc(build_linux_vhd(tmp_path / "ok.vhd")))
    api.put(bad, offer_doc(build_variant(tmp_path / "bad.vhd", "dynamic")))
    api.publish(good)
    api.publish(bad)
    api.wait_status(good, lambda d: d["status"] == "waitingForPublisherReview")
    api.wait_status(bad, lambda d: d["status"] == "failed")
    api.post(good, "golive")
    api.wait_status(good, lambda d: d["status"] == "succeeded")
    wait_quiet(stack)

    stack.kill("projection", signal.SIGTERM)
    try:
        before = asyncio.run(dump(stack.dsn))
        assert len(before["event_archive"]) > 20
        out = subprocess.run([str(BIN / "offerflow"), "projection", "rebuild"], env=stack.env(),
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr + out.stdout
        assert "rebuilt from" in out.stdout
        after = asyncio.run(dump(stack.dsn))
    finally:
        stack.start("projection")
        stack.wait_ready()
    for table in DUMP:
        assert after[table] == before[table], table
    # …and the projection carries on from its committed offsets afterwards.
    again = unique("rebuild-after")
    api.put(again, offer_doc(build_linux_vhd(tmp_path / "again.vhd")))
    api.publish(again)
    assert api.wait_status(again, lambda d: d["status"] == "waitingForPublisherReview")
