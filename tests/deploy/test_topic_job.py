"""The topic job as compose and k8s run it: the durability every topic gets follows the contract's classification
of its topics, and `--check` (each k8s service's init container) waits for the topics without creating any."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest

from offerflow_contract.topics import ALL, PARTITIONS, PUBLISHING, all_topic_names

from .manifests import COMPOSE_DIR, env_file, load_compose
from .test_topic_settings import FakeAdmin, _compose_job_args, effective
from .workspace import DEPLOY

sys.path.insert(0, str(DEPLOY / "compose"))
import create_topics


def test_topic_job_settings_follow_the_contracts_classification(monkeypatch: pytest.MonkeyPatch) -> None:
    """topics.py: every stage's topic is the source of truth (the read model is rebuilt from it), every `.dlq`
    holds dead letters that may be replayed months later, and no topic is derived. So all of them get the same
    durability from the job as compose and k8s run it: on every broker, two in sync per write, no unclean leader,
    kept forever."""
    source_of_truth = [t.name for t in ALL]
    dead_letters = [t.dlq for t in ALL]
    assert sorted(all_topic_names()) == sorted(source_of_truth + dead_letters), "a topic nobody classified"
    compose = load_compose(env_file(COMPOSE_DIR / ".env.example"))["services"]
    brokers = [n for n, svc in compose.items() if str(svc.get("image", "")).startswith("apache/kafka:")]
    rf, isr = _compose_job_args()
    assert (rf, isr) == (len(brokers), len(brokers) - 1) == (3, 2)
    admin = FakeAdmin()

    async def connect(*_: Any) -> FakeAdmin:
        return admin

    monkeypatch.setattr(create_topics, "_connect", connect)
    assert asyncio.run(create_topics.create("kafka-1:9092", replication_factor=rf, min_insync=isr,
                                            wait_seconds=1)) == 0
    assert sorted(admin.partitions) == sorted(all_topic_names())
    for name in source_of_truth + dead_letters:
        settings = effective(admin, name)
        assert (admin.replication[name], admin.partitions[name]) == (rf, PARTITIONS), name
        assert settings["min.insync.replicas"] == "2", name
        assert settings["unclean.leader.election.enable"] == "false", name
        assert (settings["retention.ms"], settings["retention.bytes"]) == ("-1", "-1"), name


def test_the_check_waits_for_the_topics_and_creates_nothing(monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """What each k8s service's init container runs: it fails while a topic is missing, passes once all exist."""
    admin = FakeAdmin({name: (PARTITIONS, {}) for name in all_topic_names() if name != PUBLISHING.dlq})

    async def connect(*_: Any) -> FakeAdmin:
        return admin

    monkeypatch.setattr(create_topics, "_connect", connect)
    assert asyncio.run(create_topics.check("kafka-0.kafka:9092", wait_seconds=0)) == 1
    assert PUBLISHING.dlq in capsys.readouterr().err and PUBLISHING.dlq not in admin.partitions
    admin.partitions[PUBLISHING.dlq] = 1  # exists, but not as the contract says
    assert asyncio.run(create_topics.check("kafka-0.kafka:9092", wait_seconds=0)) == 1
    admin.partitions[PUBLISHING.dlq] = PARTITIONS
    assert asyncio.run(create_topics.check("kafka-0.kafka:9092", wait_seconds=0)) == 0
    assert admin.alters == 0 and all(not configs for configs in admin.set_on_topic.values())
