"""Creates every topic of the contract on a multi-broker cluster (the one-shot job of compose and k8s).

A cluster needs every partition on three brokers with two in sync before a write counts, so this job waits
until enough brokers have joined, then runs ``offerflow_shared.kafka.ensure_topics``: it creates what is
missing with the contract's settings (events kept forever, ``min.insync.replicas``), brings the settings of
topics that exist to the same values, prints every change, and fails loudly when an existing topic has the
wrong partition count (that cannot be fixed by creating it again, and is never changed here: adding
partitions would remap offer ids).

    python deploy/compose/create_topics.py --replication-factor 3 --min-insync-replicas 2
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, KafkaError

from offerflow_contract.topics import PARTITIONS
from offerflow_shared.kafka import TopicReport, ensure_topics
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


async def create(bootstrap: str, *, replication_factor: int, min_insync: int, wait_seconds: float) -> int:
    admin = await _connect(bootstrap, replication_factor, time.monotonic() + wait_seconds)
    try:
        report = await ensure_topics(bootstrap, partitions=PARTITIONS, replication_factor=replication_factor,
                                     configs={"min.insync.replicas": str(min_insync)}, admin=admin)
    finally:
        await admin.close()
    out, err = summary(report)
    for line in err:
        print(line, file=sys.stderr, flush=True)
    for line in out:
        print(line, flush=True)
    return 1 if report.problems else 0


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
