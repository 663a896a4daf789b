"""N offers through the whole pipeline, against a bare aiokafka chain with the same hops, in one run.

Prints offers/s for both, the ratio, and Publish→preview latency p50/p95. Needs the broker and database
of `deploy/dev/stack.py with-infra` (what `make bench` does); starts the services itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "deploy/dev")]

from stack import Stack, create_publisher  # noqa: E402

from tests.conftest import _infra_ports  # noqa: E402
from tests.e2e.client import offer_doc  # noqa: E402
from tests.images.builder import build_linux_vhd  # noqa: E402

# publishing → validation → certification → provisioning → packaging: four consume→produce hops.
HOPS = 4


async def bare_chain(bootstrap: str, n: int) -> float:
    """offers/s of a raw consume→produce relay through HOPS hops (the least any pipeline must do)."""
    tag = uuid.uuid4().hex[:6]
    names = [f"bench.{tag}.{i}" for i in range(HOPS + 1)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(t, num_partitions=6, replication_factor=1) for t in names])
    await admin.close()
    payload = json.dumps({"payload": "x" * 1500}).encode()  # about the size of a stage event

    async def relay(src: str, dst: str) -> None:
        consumer = AIOKafkaConsumer(src, bootstrap_servers=bootstrap, group_id=f"g-{src}",
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await consumer.start()
        await producer.start()
        try:
            seen = 0
            while seen < n:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for r in records:
                        await producer.send_and_wait(dst, r.value, key=r.key)
                        seen += 1
                await consumer.commit()
        finally:
            await consumer.stop()
            await producer.stop()

    async def sink(src: str) -> None:
        consumer = AIOKafkaConsumer(src, bootstrap_servers=bootstrap, group_id=f"g-{src}",
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            seen = 0
            while seen < n:
                batch = await consumer.getmany(timeout_ms=500)
                seen += sum(len(v) for v in batch.values())
        finally:
            await consumer.stop()

    tasks = [asyncio.create_task(relay(names[i], names[i + 1])) for i in range(HOPS)]
    done = asyncio.create_task(sink(names[-1]))
    await asyncio.sleep(3)  # let every consumer join before the clock starts
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    t0 = time.perf_counter()
    for i in range(n):
        await producer.send_and_wait(names[0], payload, key=f"offer-{i}".encode())
    await producer.stop()
    await done
    elapsed = time.perf_counter() - t0
    await asyncio.gather(*tasks)
    return n / elapsed


def pipeline(stack: Stack, n: int, image: Path) -> tuple[float, list[float]]:
    token = create_publisher(stack, "bench")
    client = httpx.Client(base_url=stack.api_url, timeout=60, headers={"Authorization": f"Bearer {token}"})
    v = {"api-version": "2017-10-31"}
    offers = [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(n)]
    doc = offer_doc(image)
    for o in offers:
        client.put(f"/api/publishers/bench/offers/{o}", params=v, json=doc, headers={"If-Match": "*"}
                   ).raise_for_status()
    started: dict[str, float] = {}
    t0 = time.perf_counter()
    for o in offers:
        started[o] = time.perf_counter()
        client.post(f"/api/publishers/bench/offers/{o}/publish", params=v,
                    json={"metadata": {"notification-emails": "bench@example.com"}}).raise_for_status()
    latencies: dict[str, float] = {}
    pending = set(offers)
    deadline = time.monotonic() + 60 + n * 3
    while pending and time.monotonic() < deadline:
        listing = client.get("/api/publishers/bench/offers", params=v).json()
        now = time.perf_counter()
        for item in listing:
            if item["id"] in pending and item["status"] in ("waitingForPublisherReview", "failed"):
                if item["status"] == "failed":
                    raise SystemExit(f"offer {item['id']} failed: see the status endpoint")
                pending.discard(item["id"])
                latencies[item["id"]] = now - started[item["id"]]
        time.sleep(0.2)
    if pending:
        raise SystemExit(f"{len(pending)} offers never reached the preview")
    return n / (time.perf_counter() - t0), sorted(latencies.values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=200)
    args = parser.parse_args()
    ports = _infra_ports()
    if ports is None:
        raise SystemExit("run through `make bench` (needs the private broker and database)")
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(run_dir=Path(tmp) / "stack", ports=ports)
        image = build_linux_vhd(Path(tmp) / "os.vhd", size_mib=20)
        baseline = asyncio.run(bare_chain(stack.kafka_bootstrap, args.n))
        stack.start_services(timeout=120)
        try:
            rate, lat = pipeline(stack, args.n, image)
        finally:
            stack.stop_services()
    p50 = statistics.median(lat)
    p95 = lat[min(len(lat) - 1, int(len(lat) * 0.95))]
    print(f"offers                 {args.n}")
    print(f"bare aiokafka chain    {baseline:8.1f} offers/s ({HOPS} hops)")
    print(f"offerflow pipeline     {rate:8.1f} offers/s (publish → preview, 8 regions per offer)")
    print(f"ratio                  {rate / baseline:8.3f}")
    print(f"publish→preview p50    {p50:8.2f} s")
    print(f"publish→preview p95    {p95:8.2f} s")


if __name__ == "__main__":
    main()
