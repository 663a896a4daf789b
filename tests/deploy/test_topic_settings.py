"""Every topic keeps its events forever: creation sets it, existing topics are brought to it, changes are reported.

Offline against an in-memory admin with Kafka's AlterConfigs semantics (the request replaces every setting made
on the topic), then for real against the broker of `make test`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

import pytest

from offerflow_contract.topics import PARTITIONS, PUBLISHING, TOPIC_CONFIGS, all_topic_names
from offerflow_shared.kafka import TopicReport, config_changes, ensure_topics, partition_problem

from .manifests import COMPOSE_DIR, K8S_DIR, env_file, k8s_documents, load_compose
from .workspace import DEPLOY

sys.path.insert(0, str(DEPLOY / "compose"))
import create_topics

WEEK = "604800000"
BROKER_DEFAULTS = {"retention.ms": WEEK, "retention.bytes": "-1", "min.insync.replicas": "1",
                   "segment.ms": WEEK, "cleanup.policy": "delete"}
DYNAMIC, DEFAULT = 1, 5  # DescribeConfigs config_source values


class FakeAdmin:
    """The admin calls ``ensure_topics`` makes, on topics held in memory."""

    def __init__(self, topics: dict[str, tuple[int, dict[str, str]]] | None = None,
                 alter_error: int = 0) -> None:
        self.partitions = {name: count for name, (count, _) in (topics or {}).items()}
        self.set_on_topic = {name: dict(configs) for name, (_, configs) in (topics or {}).items()}
        self.alter_error = alter_error
        self.alters = 0
        self.replication: dict[str, int] = {}

    async def list_topics(self) -> list[str]:
        return list(self.partitions)

    async def create_topics(self, new_topics: Iterable[Any]) -> None:
        for t in new_topics:
            self.partitions[t.name] = t.num_partitions
            self.replication[t.name] = t.replication_factor
            self.set_on_topic[t.name] = dict(t.topic_configs)

    async def describe_topics(self, names: list[str]) -> list[dict[str, Any]]:
        return [{"topic": n, "error_code": 0, "partitions": [{"partition": i} for i in range(self.partitions[n])]}
                for n in names]

    async def describe_configs(self, resources: list[Any]) -> list[Any]:
        out: list[Any] = []
        for r in resources:
            own = self.set_on_topic[r.name]
            entries: list[tuple[Any, ...]] = [
                (k, own.get(k, v), False, DYNAMIC if k in own else DEFAULT, False, [])
                for k, v in {**BROKER_DEFAULTS, **own}.items()]
            out.append((0, None, 2, r.name, entries))
        return [SimpleNamespace(resources=out)]

    async def alter_configs(self, resources: list[Any]) -> list[Any]:
        self.alters += 1
        if not self.alter_error:
            for r in resources:
                self.set_on_topic[r.name] = dict(r.configs)  # replaces, as Kafka does
        return [SimpleNamespace(resources=[(self.alter_error, "refused" if self.alter_error else None, 2, r.name)
                                           for r in resources])]

    async def close(self) -> None:
        return None


def effective(admin: FakeAdmin, name: str) -> dict[str, str]:
    return {**BROKER_DEFAULTS, **admin.set_on_topic[name]}


def run(admin: FakeAdmin, **kwargs: Any) -> TopicReport:
    return asyncio.run(ensure_topics("unused:9092", admin=admin, **kwargs))


def test_the_contract_keeps_events_forever() -> None:
    assert dict(TOPIC_CONFIGS) == {"retention.ms": "-1", "retention.bytes": "-1"}


def test_missing_topics_are_created_with_retention_forever() -> None:
    admin = FakeAdmin()
    report = run(admin)
    assert report == TopicReport(created=tuple(all_topic_names()))
    for name in all_topic_names():
        assert admin.partitions[name] == PARTITIONS
        assert effective(admin, name)["retention.ms"] == "-1" and effective(admin, name)["retention.bytes"] == "-1"


def test_existing_topic_is_reconciled_keeping_its_other_settings_and_a_second_run_changes_nothing() -> None:
    admin = FakeAdmin({name: (PARTITIONS, {"retention.ms": WEEK, "min.insync.replicas": "2"})
                       for name in all_topic_names()})
    report = run(admin)
    assert report.created == () and report.problems == ()
    assert report.changed == tuple(f"{name}: retention.ms {WEEK} -> -1" for name in all_topic_names())
    for name in all_topic_names():
        assert effective(admin, name)["retention.ms"] == "-1"
        assert effective(admin, name)["min.insync.replicas"] == "2", "a setting made on the topic was dropped"
    alters = admin.alters
    assert run(admin) == TopicReport()
    assert admin.alters == alters


def test_too_few_partitions_are_reported_and_left_alone() -> None:
    admin = FakeAdmin({PUBLISHING.name: (3, dict(TOPIC_CONFIGS))})
    report = run(admin, names=[PUBLISHING.name])
    assert report.problems == (f"{PUBLISHING.name}: 3 partitions, the contract says {PARTITIONS} "
                               "(not increased: adding partitions remaps offer ids to other partitions)",)
    assert admin.partitions[PUBLISHING.name] == 3 and report.changed == ()


def test_a_refused_change_is_a_problem_not_a_change() -> None:
    admin = FakeAdmin({PUBLISHING.name: (PARTITIONS, {"retention.ms": WEEK})}, alter_error=29)
    report = run(admin, names=[PUBLISHING.name])
    assert report.changed == ()
    assert len(report.problems) == 1 and "error 29" in report.problems[0] and "retention.ms" in report.problems[0]


def test_change_lines_name_the_old_and_new_value() -> None:
    assert config_changes("t", {"retention.ms": WEEK, "retention.bytes": "-1"}, TOPIC_CONFIGS) == [
        f"t: retention.ms {WEEK} -> -1"]
    assert config_changes("t", {}, {"retention.ms": "-1"}) == ["t: retention.ms (unset) -> -1"]
    assert partition_problem("t", PARTITIONS, PARTITIONS) is None
    assert "cannot shrink" in (partition_problem("t", 12, PARTITIONS) or "")


def _compose_job_command() -> list[str]:
    return list(load_compose(env_file(COMPOSE_DIR / ".env.example"))["services"]["topics-init"]["command"])


def _compose_job_args() -> tuple[int, int]:
    command = _compose_job_command()
    return (int(command[command.index("--replication-factor") + 1]),
            int(command[command.index("--min-insync-replicas") + 1]))


def test_k8s_runs_the_same_topic_job_as_compose() -> None:
    """So the job test below, run with compose's arguments, covers the cluster too."""
    jobs = [d for p, d in k8s_documents() if d.get("kind") == "Job" and p != K8S_DIR / "kustomization.yaml"
            and d["metadata"]["name"] == "offerflow-topics-init"]
    assert len(jobs) == 1
    assert jobs[0]["spec"]["template"]["spec"]["containers"][0]["command"] == _compose_job_command()


def test_topic_job_creates_and_reconciles_with_the_compose_settings(monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    rf, isr = _compose_job_args()
    admin = FakeAdmin({PUBLISHING.name: (PARTITIONS, {"retention.ms": WEEK})})

    async def connect(*_: Any) -> FakeAdmin:
        return admin

    monkeypatch.setattr(create_topics, "_connect", connect)
    assert asyncio.run(create_topics.create("kafka-1:9092", replication_factor=rf, min_insync=isr,
                                            wait_seconds=1)) == 0
    for name in all_topic_names():
        settings = effective(admin, name)
        assert (settings["retention.ms"], settings["retention.bytes"]) == ("-1", "-1"), name
        assert settings["min.insync.replicas"] == str(isr), name
    out = capsys.readouterr().out
    assert f"changed {PUBLISHING.name}: retention.ms {WEEK} -> -1" in out
    assert f"changed {PUBLISHING.name}: min.insync.replicas 1 -> {isr}" in out


def test_topic_job_fails_on_a_wrong_partition_count(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    admin = FakeAdmin({PUBLISHING.name: (1, {})})

    async def connect(*_: Any) -> FakeAdmin:
        return admin

    monkeypatch.setattr(create_topics, "_connect", connect)
    assert asyncio.run(create_topics.create("kafka-1:9092", replication_factor=3, min_insync=2,
                                            wait_seconds=1)) == 1
    assert f"{PUBLISHING.name}: 1 partitions, the contract says {PARTITIONS}" in capsys.readouterr().err


# --- the real broker ------------------------------------------------------------------------------------------


def _bootstrap() -> str:
    bootstrap = os.environ.get("OFFERFLOW_KAFKA_BOOTSTRAP")
    if not bootstrap and os.environ.get("OFFERFLOW_KAFKA_PORT"):
        bootstrap = f"127.0.0.1:{os.environ['OFFERFLOW_KAFKA_PORT']}"
    if not bootstrap:
        pytest.skip("needs the broker of `make test`")
    return bootstrap


async def _described(bootstrap: str, names: list[str]) -> tuple[dict[str, dict[str, str]], dict[str, int]]:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
        configs = {r[3]: {e[0]: e[1] for e in r[4]} for resp in responses for r in resp.resources if r[0] == 0}
        partitions = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(names)}
        return configs, partitions
    finally:
        await admin.close()


async def _create_week_old_style_topic(bootstrap: str, name: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 3, 1, topic_configs={"retention.ms": WEEK,
                                                                      "segment.ms": "3600000"})])
    finally:
        await admin.close()


async def _delete(bootstrap: str, names: list[str]) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        if doomed := [n for n in names if n in existing]:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


@pytest.mark.integration
def test_reconciles_a_seven_day_topic_on_the_real_broker() -> None:
    bootstrap = _bootstrap()
    old, new = f"offerflow-test.retention.{uuid.uuid4().hex[:8]}", f"offerflow-test.created.{uuid.uuid4().hex[:8]}"
    asyncio.run(_create_week_old_style_topic(bootstrap, old))
    try:
        first = asyncio.run(ensure_topics(bootstrap, names=[old, new]))
        assert first.created == (new,)
        assert first.changed == (f"{old}: retention.ms {WEEK} -> -1",)
        assert first.problems == (f"{old}: 3 partitions, the contract says {PARTITIONS} "
                                  "(not increased: adding partitions remaps offer ids to other partitions)",)
        configs, partitions = asyncio.run(_described(bootstrap, [old, new]))
        for name in (old, new):
            assert (configs[name]["retention.ms"], configs[name]["retention.bytes"]) == ("-1", "-1"), name
        assert configs[old]["segment.ms"] == "3600000", "a setting made on the topic was dropped"
        assert partitions == {old: 3, new: PARTITIONS}

        second = asyncio.run(ensure_topics(bootstrap, names=[old, new]))
        assert second.created == () and second.changed == ()
    finally:
        asyncio.run(_delete(bootstrap, [old, new]))


@pytest.mark.integration
def test_every_contract_topic_keeps_its_events_forever_on_the_real_broker() -> None:
    bootstrap = _bootstrap()
    asyncio.run(ensure_topics(bootstrap))
    assert asyncio.run(ensure_topics(bootstrap)) == TopicReport()
    configs, partitions = asyncio.run(_described(bootstrap, all_topic_names()))
    for name in all_topic_names():
        assert (configs[name]["retention.ms"], configs[name]["retention.bytes"]) == ("-1", "-1"), name
        assert partitions[name] == PARTITIONS, name
