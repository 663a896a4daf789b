"""Creates every topic of the contract on a multi-broker cluster (the one-shot job of compose and k8s).

``offerflow_shared.kafka.ensure_topics`` is made for the single dev broker (replication factor 1); a cluster
needs every partition on three brokers with two in sync before a write counts, so this job waits until
enough brokers have joined, creates what is missing, and fails loudly when an existing topic does not
match (a topic created with the wrong partition count cannot be fixed by creating it again).

    python deploy/compose/create_topics.py --replication-factor 3 --min-insync-replicas 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from offerflow_shared.settings import CommonSettings
from offerflow_shared.topics import PARTITIONS, all_topic_names


def plan(existing: dict[str, int], *, partitions: int) -> tuple[list[str], list[str]]:
    """Returns (topics to create, problems with topics that exist) for the contract's topic names."""
    wanted = [name for name in all_topic_names() if name not in existing]
    problems = [
        f"{name} has {count} partitions, the contract says {partitions}"
        for name, count in sorted(existing.items())
        if name in all_topic_names() and count != partitions
    ]
    return wanted, problems


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


async def create(bootstrap: str, *, replication_factor: int, min_insync: int, wait_seconds: float) -> int:
    admin = await _connect(bootstrap, replication_factor, time.monotonic() + wait_seconds)
    try:
        described = await admin.describe_topics(all_topic_names())
        existing = {t["topic"]: len(t["partitions"]) for t in described if t.get("error_code", 0) == 0}
        wanted, problems = plan(existing, partitions=PARTITIONS)
        for problem in problems:
            print(f"create_topics: {problem}", file=sys.stderr, flush=True)
        if wanted:
            config = {"min.insync.replicas": str(min_insync)}
            # A second job started at the same moment may win the race; the topics exist either way.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(name, PARTITIONS, replication_factor, topic_configs=config) for name in wanted]
                )
        print(f"create_topics: created {len(wanted)}, kept {len(existing)}", flush=True)
        return 1 if problems else 0
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--replication-factor", type=int, default=3)
    parser.add_argument("--min-insync-replicas", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the brokers")
    args = parser.parse_args(argv)
    if not 1 <= args.min_insync_replicas <= args.replication_factor:
        parser.error("--min-insync-replicas must be between 1 and --replication-factor")
    bootstrap = CommonSettings().kafka_bootstrap
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
