"""The local three-node KRaft cluster: its quorum, the services' topics on it, a broker crash under acks=all
writes, and two processes of one stage sharing its partitions."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment as Assignment
from aiokafka.errors import KafkaError
from cluster import KafkaCluster
from stack import Stack, port_open

from offerflow_contract.topics import all_topic_names
from tests.conftest import _infra_ports

pytestmark = pytest.mark.cluster


def test_three_voters_and_one_active_controller(cluster: KafkaCluster) -> None:
    assert cluster.node_ids == [1, 2, 3]
    assert cluster.voter_ids() == [1, 2, 3]
    assert cluster.active_controller() in cluster.node_ids
    assert len(cluster.bootstrap.split(",")) == 3


async def _min_isr(bootstrap: str, topics: list[str]) -> dict[str, str | None]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])
    finally:
        await admin.close()
    return {name: {e[0]: e[1] for e in entries}.get("min.insync.replicas")
            for r in responses for _code, _msg, _type, name, entries in r.resources}


def test_services_topics_have_three_replicas_and_min_isr_two(cluster: KafkaCluster) -> None:
    topics = all_topic_names()
    for topic in topics:
        assert cluster.replication(topic) == [3] * 6, topic
    assert asyncio.run(_min_isr(cluster.bootstrap, topics)) == {t: "2" for t in topics}
    assert os.environ["OFFERFLOW_KAFKA_REPLICATION_FACTOR"] == "3"  # what the services create (Faust's topics)


async def _produce(bootstrap: str, topic: str, values: range) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                                request_timeout_ms=30000)
    await producer.start()
    try:
        for i in values:
            await producer.send_and_wait(topic, str(i).encode(), partition=0)
    finally:
        await producer.stop()


async def _read_all(bootstrap: str, topic: str, expected: int, within: float = 60) -> list[int]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    got: list[int] = []
    try:
        deadline = time.monotonic() + within
        while len(got) < expected and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                got += [int(r.value or b"-1") for r in records]
    finally:
        await consumer.stop()
    return got


async def _create(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=3)])
    finally:
        await admin.close()


def test_acks_all_writes_survive_kill_of_the_partition_leader(cluster: KafkaCluster) -> None:
    topic = f"cluster-test-{uuid.uuid4().hex[:8]}"
    asyncio.run(_create(cluster.bootstrap, topic))
    cluster.wait_healthy(60)
    asyncio.run(_produce(cluster.bootstrap, topic, range(0, 200)))
    leader = cluster.leaders(topic)[0]
    cluster.kill(leader)
    try:
        assert cluster.pid(leader) is None
        # Written while the old leader is dead: the producer waits for the new leader, the two survivors hold it.
        asyncio.run(_produce(cluster.bootstrap, topic, range(200, 400)))
        assert cluster.leaders(topic)[0] not in (leader, -1)
    finally:
        cluster.start_node(leader)
    cluster.wait_healthy(120)
    # Every acknowledged write, once each, in order, also after the killed node is back.
    assert asyncio.run(_read_all(cluster.bootstrap, topic, 400)) == list(range(400))


async def _assignments(bootstrap: str, group: str, topic: str) -> list[int] | None:
    """Partitions of ``topic`` held by each member of ``group``; None while the group is not stable."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (resp,) = await admin.describe_consumer_groups([group])
    except KafkaError:  # e.g. no coordinator yet: its partition's leadership moved after a broker restart
        return None
    finally:
        await admin.close()
    (grp,) = resp.groups
    if grp[2] != "Stable":
        return None
    return sorted(sum(len(parts) for t, parts in Assignment.decode(m[4]).assignment if t == topic) for m in grp[5])


def test_two_instances_of_a_stage_split_its_partitions(cluster: KafkaCluster, tmp_path: Path) -> None:
    ports = _infra_ports()
    stores = os.environ.get("OFFERFLOW_OBJECTSTORES_FILE")
    assert ports is not None and stores, "run under `deploy/dev/stack.py with-infra --cluster`"
    stack = Stack(run_dir=tmp_path / "stack", ports=ports, objectstores_file=Path(stores), instances=2)
    names = stack.instance_names("certification")
    assert names == ["certification", "certification-2"]
    assert stack.ports.web["certification"] != stack.ports.web["certification-2"]
    assert stack.cluster is not None and stack.kafka_bootstrap == cluster.bootstrap
    try:
        for name in names:
            stack.start(name)
        deadline = time.monotonic() + 150
        sizes = None
        while time.monotonic() < deadline:
            for name in names:
                assert stack.procs[name].poll() is None, f"{name} exited; see {stack.run_dir}/logs/{name}.log"
            if all(port_open(stack.ports.web[n]) for n in names):
                sizes = asyncio.run(_assignments(cluster.bootstrap, "offerflow-certification", "offerflow.validation"))
                if sizes and len(sizes) == 2 and all(sizes):
                    break
            time.sleep(1)
        assert sizes == [3, 3], f"offerflow-certification never split between its two instances: {sizes}"
    finally:
        stack.stop_services()
