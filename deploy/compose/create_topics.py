"""Creates every topic of the contract on a multi-broker cluster (the one-shot job of compose and k8s).

A cluster needs every partition on three brokers with two in sync before a write counts, so this job waits
until enough brokers have joined, then runs ``offerflow_shared.kafka.ensure_topics``: it creates what is
missing with the contract's settings (events kept forever, ``min.insync.replicas``), brings the settings of
topics that exist to the same values, prints every change, and fails loudly when an existing topic has the
wrong partition count (that cannot be fixed by creating it again, and is never changed here: adding
partitions would remap offer ids).

    python deploy/compose/create_topics.py --replication-factor 3 --min-insync-replicas 2

With ``--check`` it creates and changes nothing: it waits until every topic of the contract exists with the
contract's partition count, which is how a Kubernetes pod's init container holds a service back until the
topic job has run (Kubernetes has no "after this Job" ordering of its own).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, KafkaError

from offerflow_contract.topics import PARTITIONS, all_topic_names
from offerflow_shared.kafka import TopicReport, ensure_topics, partition_problem
from offerflow_shared.settings import CommonSettings


def summary(report: TopicReport) -> tuple[list[str], list[str]]:
    """(lines for stdout, lines for stderr) of one run: every creation and change, then what is wrong."""
    out = [f"create_topics: created {name}" for name in report.created]
    out += [f"create_topics: changed {line}" for line in report.changed]
    out.append(f"create_topics: created {len(report.created)}, changed {len(report.changed)}, "
               f"problems {len(report.problems)}")
    return out, [f"create_topics: {problem}" for problem in report.problems]


async def _connect(bootstrap: str, brokers: int, deadline: float) -> AIOKafkaAdminClient:
    """An admin client once ``brokers`` brokers answer; the cluster may still be electing a controller."""
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            await admin.start()
            cluster: dict[str, Any] = await admin.describe_cluster()
            if len(cluster.get("brokers", [])) >= brokers:
                return admin
            seen = len(cluster.get("brokers", []))
        except (KafkaConnectionError, KafkaError, OSError) as exc:
            seen = 0
            print(f"create_topics: waiting for the cluster ({exc.__class__.__name__})", flush=True)
        await admin.close()
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {seen} of {brokers} brokers joined in time")
        await asyncio.sleep(2)


def topic_configs(min_insync: int) -> dict[str, str]:
    """Settings the job puts on every topic besides the contract's retention (``TOPIC_CONFIGS``): a write counts
    once ``min_insync`` replicas have it, and a replica that missed writes never becomes leader (that would
    silently drop acknowledged events from the source of truth), whatever the broker's defaults say."""
    return {"min.insync.replicas": str(min_insync), "unclean.leader.election.enable": "false"}


async def create(bootstrap: str, *, replication_factor: int, min_insync: int, wait_seconds: float) -> int:
    admin = await _connect(bootstrap, replication_factor, time.monotonic() + wait_seconds)
    try:
        report = await ensure_topics(bootstrap, partitions=PARTITIONS, replication_factor=replication_factor,
                                     configs=topic_configs(min_insync), admin=admin)
    finally:
        await admin.close()
    out, err = summary(report)
    for line in err:
        print(line, file=sys.stderr, flush=True)
    for line in out:
        print(line, flush=True)
    return 1 if report.problems else 0


async def missing_topics(admin: Any) -> list[str]:
    """Contract topics that do not exist yet or have another partition count than the contract's."""
    names = all_topic_names()
    existing = set(await admin.list_topics())
    wrong = [t["topic"] for t in await admin.describe_topics([n for n in names if n in existing])
             if partition_problem(t["topic"], len(t.get("partitions") or []), PARTITIONS)]
    return [n for n in names if n not in existing] + wrong


async def check(bootstrap: str, *, wait_seconds: float) -> int:
    """0 once every contract topic exists (created by the topic job); 1 if that has not happened in time."""
    deadline = time.monotonic() + wait_seconds
    admin = await _connect(bootstrap, 1, deadline)
    try:
        while missing := await missing_topics(admin):
            if time.monotonic() > deadline:
                print(f"create_topics: not created by the topic job yet: {', '.join(missing)}",
                      file=sys.stderr, flush=True)
                return 1
            print(f"create_topics: waiting for {len(missing)} topics (first: {missing[0]})", flush=True)
            await asyncio.sleep(5)
    finally:
        await admin.close()
    print(f"create_topics: all {len(all_topic_names())} topics exist", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--replication-factor", type=int, default=3)
    parser.add_argument("--min-insync-replicas", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the brokers")
    parser.add_argument("--check", action="store_true",
                        help="create nothing: wait until every topic exists (a service's init container)")
    args = parser.parse_args(argv)
    if not 1 <= args.min_insync_replicas <= args.replication_factor:
        parser.error("--min-insync-replicas must be between 1 and --replication-factor")
    bootstrap = CommonSettings().kafka_bootstrap
    if args.check:
        return asyncio.run(check(bootstrap, wait_seconds=args.timeout))
    return asyncio.run(
        create(
            bootstrap,
            replication_factor=args.replication_factor,
            min_insync=args.min_insync_replicas,
            wait_seconds=args.timeout,
        )
    )


if __name__ == "__main__":
    raise SystemExit(main())
