"""Rebuild of the read model from 1 M events, against a bare read of the same topics, in one run.

Fills the topics with synthetic but contract-valid publish runs (each run is the event sequence a real
run produces: publish requested, every stage started/progressed/passed, preview ready, mails), then times
`offerflow projection rebuild` (its library function) and, as the baseline, a consumer that only reads
every record. Needs `deploy/dev/stack.py with-infra` (what `make bench-rebuild` does).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from offerflow_contract import codec, topics  # noqa: E402
from offerflow_contract.envelope import Envelope, wrap  # noqa: E402
from offerflow_status_api.rebuild import read_batches, rebuild  # noqa: E402
from tests.contract.examples import EXAMPLES  # noqa: E402

TOPIC_OF = {"offer.": topics.PUBLISHING.name, "validation.": topics.VALIDATION.name,
            "certification.": topics.CERTIFICATION.name, "provisioning.": topics.PROVISIONING.name,
            "staging.": topics.STAGING.name, "packaging.": topics.PACKAGING.name,
            "notification.": topics.NOTIFICATIONS.name}
# The shape of one successful run up to sign-off (what the services emit), by event type.
RUN = ["offer.publish_requested", "validation.started", "validation.passed", "certification.started",
       "certification.progressed", "certification.passed", "provisioning.started"] + \
      ["provisioning.progressed"] * 8 + ["provisioning.passed", "staging.started", "staging.progressed",
                                         "staging.passed", "packaging.started", "packaging.progressed",
                                         "packaging.passed", "offer.preview_ready", "notification.sent",
                                         "notification.sent"]
TEMPLATES = {e.event_type: e for e in EXAMPLES}


def topic_for(event_type: str) -> str:
    if event_type.startswith("offer.preview") or event_type.startswith("offer.went"):
        return topics.PACKAGING.name
    return next(t for prefix, t in TOPIC_OF.items() if event_type.startswith(prefix))


def run_events(i: int) -> list[Envelope]:
    offer, run = f"bench-{i // 3}", str(uuid.uuid4())
    out = []
    for n, event_type in enumerate(RUN):
        env = wrap(TEMPLATES[event_type], offer_id=offer, publisher_id="bench", run_id=run, producer="bench")
        out.append(env.model_copy(update={"occurred_at": env.occurred_at.replace(microsecond=n)}))
    return out


async def fill(bootstrap: str, events: int) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50, max_batch_size=1 << 20, acks=1)
    await producer.start()
    sent = 0
    try:
        i = 0
        while sent < events:
            futures = []
            for _ in range(200):
                for env in run_events(i):
                    futures.append(await producer.send(topic_for(env.event_type), codec.encode(env),
                                                       key=env.offer_id.encode()))
                    sent += 1
                i += 1
            await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return sent


async def bare_read(bootstrap: str) -> tuple[int, float]:
    t0 = time.perf_counter()
    n = 0
    async for batch, records, _ in read_batches(bootstrap):
        n += records
        del batch
    return n, time.perf_counter() - t0


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1,
                        help="time the read and the rebuild this many times each, alternating; the best of each "
                             "counts (steadier on a shared machine)")
    args = parser.parse_args()
    # The owner's DSN: the rebuild empties the read model (TRUNCATE), which the services' role may not.
    bootstrap = os.environ["OFFERFLOW_KAFKA_BOOTSTRAP"]
    dsn = os.environ.get("OFFERFLOW_DATABASE_MIGRATION_DSN") or os.environ["OFFERFLOW_DATABASE_DSN"]
    from offerflow_shared.kafka import ensure_topics

    await ensure_topics(bootstrap)
    t0 = time.perf_counter()
    sent = await fill(bootstrap, args.events)
    print(f"filled                 {sent} events in {time.perf_counter() - t0:.1f} s")
    reads, rebuilds = [], []
    for _ in range(args.repeat):
        # The baseline decodes every record too (the least a rebuild must do besides writing).
        n, baseline = await bare_read(bootstrap)
        stats = await rebuild(dsn, bootstrap)
        reads.append(baseline)
        rebuilds.append(stats.seconds)
        print(f"bare read + decode     {n / baseline:10.0f} events/s ({baseline:.1f} s)")
        print(f"rebuild                {stats.events / stats.seconds:10.0f} events/s ({stats.seconds:.1f} s; "
              f"{stats.runs} runs, {stats.offers} offers)")
    print(f"ratio                  {min(reads) / min(rebuilds):10.3f}")


if __name__ == "__main__":
    asyncio.run(main())
