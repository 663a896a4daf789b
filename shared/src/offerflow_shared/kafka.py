"""Kafka helpers that are not Faust: topic creation with settings reconciliation, and a plain aiokafka sink."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError

from offerflow_contract.codec import Headers
from offerflow_contract.topics import PARTITIONS, TOPIC_CONFIGS, all_topic_names

log = logging.getLogger("offerflow.kafka")

# DescribeConfigs' config_source for a value set on the topic itself (not a broker default).
_DYNAMIC_TOPIC_CONFIG = 1
_UNKNOWN_TOPIC = 3  # error code while a topic created a moment ago has not reached every broker's metadata


@dataclass(frozen=True)
class TopicReport:
    """What ``ensure_topics`` did: topics created, settings changed on existing ones, and what it left alone."""

    created: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        return [f"created {name}" for name in self.created] + list(self.changed) + list(self.problems)


def config_changes(topic: str, current: Mapping[str, str | None], wanted: Mapping[str, str]) -> list[str]:
    """One line per setting whose value differs, e.g. ``offerflow.publishing: retention.ms 604800000 -> -1``."""
    return [f"{topic}: {key} {current.get(key) or '(unset)'} -> {value}"
            for key, value in wanted.items() if current.get(key) != value]


def partition_problem(topic: str, count: int, wanted: int) -> str | None:
    """Partitions are never changed here: every topic is keyed by offer id, and adding partitions would send an
    offer's later events to another partition than its earlier ones (their order would be lost)."""
    if count == wanted:
        return None
    why = ("not increased: adding partitions remaps offer ids to other partitions" if count < wanted
           else "a topic cannot shrink")
    return f"{topic}: {count} partitions, the contract says {wanted} ({why})"


async def ensure_topics(bootstrap: str, *, partitions: int = PARTITIONS, replication_factor: int = 1,
                        configs: Mapping[str, str] | None = None, names: Iterable[str] | None = None,
                        admin: AIOKafkaAdminClient | None = None) -> TopicReport:
    """Create every topic of the contract that does not exist yet and bring the settings of those that do to
    ``TOPIC_CONFIGS`` (plus ``configs``); logs and returns what it changed. Safe to run again: a second run
    with nothing to do reports no change."""
    wanted_configs = {**TOPIC_CONFIGS, **(configs or {})}
    topics = list(names) if names is not None else all_topic_names()
    own = admin is None
    client = admin or AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    if own:
        await client.start()
    try:
        existing = set(await client.list_topics())
        missing = [n for n in topics if n not in existing]
        if missing:
            # Another starter may create them at the same moment; either way they exist afterwards.
            with contextlib.suppress(TopicAlreadyExistsError):
                await client.create_topics([
                    NewTopic(n, num_partitions=partitions, replication_factor=replication_factor,
                             topic_configs=dict(wanted_configs)) for n in missing])
        present = [n for n in topics if n in existing]
        problems: list[str] = []
        changed: list[str] = []
        if present:
            for t in await client.describe_topics(present):
                problem = partition_problem(t["topic"], len(t.get("partitions") or []), partitions)
                if problem and t.get("error_code", 0) == 0:
                    problems.append(problem)
            changed = await _reconcile(client, present, wanted_configs, problems)
        report = TopicReport(tuple(missing), tuple(changed), tuple(problems))
    finally:
        if own:
            await client.close()
    for line in report.changed:
        log.info("topic setting changed: %s", line)
    for line in report.problems:
        log.warning("topic left as it is: %s", line)
    return report


async def _describe(client: AIOKafkaAdminClient, names: list[str],
                    problems: list[str]) -> dict[str, dict[str, tuple[str | None, int]]]:
    """{topic: {setting: (value, config_source)}}; retried briefly for topics not yet known to every broker."""
    found: dict[str, dict[str, tuple[str | None, int]]] = {}
    pending = list(names)
    for attempt in range(10):
        errors: dict[str, str] = {}
        responses = await client.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n) for n in pending])
        for response in responses:
            for error_code, error_message, _type, name, entries in response.resources:
                if error_code == 0:
                    found[name] = {e[0]: (e[1], int(e[3])) for e in entries}
                elif error_code != _UNKNOWN_TOPIC or attempt == 9:
                    errors[name] = f"{name}: settings not readable (error {error_code} {error_message or ''})"
        pending = [n for n in pending if n not in found and n not in errors]
        problems.extend(errors.values())
        if not pending:
            break
        await asyncio.sleep(0.5)
    return found


async def _reconcile(client: AIOKafkaAdminClient, names: list[str], wanted: Mapping[str, str],
                     problems: list[str]) -> list[str]:
    described = await _describe(client, names, problems)
    changed: list[str] = []
    alters: list[tuple[ConfigResource, list[str]]] = []
    for name, entries in described.items():
        lines = config_changes(name, {k: v for k, (v, _) in entries.items()}, wanted)
        if not lines:
            continue
        # AlterConfigs replaces every setting made on the topic, so the ones already set there are sent again.
        set_here: dict[str, Any] = {k: v for k, (v, source) in entries.items() if source == _DYNAMIC_TOPIC_CONFIG}
        if any(v is None for v in set_here.values()):
            problems.append(f"{name}: has a secret setting that cannot be re-sent; not changed ({'; '.join(lines)})")
            continue
        alters.append((ConfigResource(ConfigResourceType.TOPIC, name, {**set_here, **wanted}), lines))
    if not alters:
        return changed
    responses = await client.alter_configs([resource for resource, _ in alters])
    failed = {name: f"{code} {message or ''}".strip()
              for response in responses for code, message, _type, name in response.resources if code != 0}
    for resource, lines in alters:
        if resource.name in failed:
            problems.append(f"{resource.name}: settings not changed (error {failed[resource.name]}): "
                            + "; ".join(lines))
        else:
            changed.extend(lines)
    await _settle(client, [r.name for r, _ in alters if r.name not in failed], wanted)
    return changed


async def _settle(client: AIOKafkaAdminClient, names: list[str], wanted: Mapping[str, str]) -> None:
    """Waits (briefly) until the brokers serve the new values: the controller applies them asynchronously, and a
    caller that describes the topics right away (or runs ``ensure_topics`` again) must not see the old ones."""
    for _ in range(20):
        if not names:
            return
        described = await _describe(client, names, [])
        names = [n for n, entries in described.items()
                 if config_changes(n, {k: v for k, (v, _) in entries.items()}, wanted)]
        if names:
            await asyncio.sleep(0.25)
    if names:
        log.warning("topic settings accepted but not yet visible: %s", ", ".join(names))


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

    async def enqueue(self, topic: str, key: bytes | None, value: bytes | None,
                      headers: Headers) -> Awaitable[object]:
        ack: Awaitable[object] = await self._producer.send(topic, value=value, key=key, headers=headers)
        return ack
