"""N offers through the whole pipeline, against a bare loop doing the same stage work in one process, in one run.

Prints, in order: the old context figure (a bare aiokafka consume→produce relay with the same hops and no work,
and Offerflow's offers/s against it), then the baseline that separates our orchestration from the work: the
same stages run by ``stage_loop.py`` in ONE process with no Kafka (each service's own handler and adapters, the
same region endpoints, the same per-stage concurrency), and publish→preview p50/p95 for one offer alone and for
the burst of N, for both. The last line starting with ``ratio`` is offers/s Offerflow / bare loop: the
orchestration overhead (goal >= 0.8).

Every phase (bare alone, bare burst, Offerflow alone, Offerflow burst) gets its own freshly built disk image, so
each starts cold: its first offer certifies the image and copies it to every region; the other offers of a burst
share that image and reuse the report and the stored content (content-addressed), as the services do.

Needs the broker, database and object stores of ``deploy/dev/stack.py with-infra`` (what ``make bench`` does);
starts the services itself.

    deploy/dev/stack.py with-infra .run/bench -- uv run python bench/pipeline.py [-n 200] [--image-mib 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "deploy/dev"), str(ROOT / "bench")]

import stage_loop  # noqa: E402
from stack import Stack, create_publisher  # noqa: E402

from tests.conftest import _infra_ports  # noqa: E402
from tests.e2e.client import offer_doc  # noqa: E402
from tests.images.builder import build_linux_vhd  # noqa: E402

# publishing → validation → certification → provisioning → packaging: four consume→produce hops.
HOPS = 4
STAGES = ("validation", "certification", "provisioning", "packaging")


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


def fresh_image(folder: Path, size_mib: int) -> tuple[Path, dict[str, Any]]:
    """A compliant disk image whose bytes no earlier phase has seen (a random file inside), and its offer."""
    folder.mkdir(parents=True)
    image = build_linux_vhd(folder / "os.vhd", size_mib=size_mib,
                            tree_overrides={"/etc/offerflow-bench-id": uuid.uuid4().hex.encode()})
    return image, offer_doc(image, publisher="bench")


def pipeline(stack: Stack, client: httpx.Client, n: int, doc: dict[str, Any]) -> tuple[float, list[float]]:
    """offers/s and sorted publish→preview latencies of n new offers published at once through the services."""
    v = {"api-version": "2017-10-31"}
    offers = [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(n)]
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
    deadline = time.monotonic() + 120 + n * 3
    while pending and time.monotonic() < deadline:
        listing = client.get("/api/publishers/bench/offers", params=v).json()
        now = time.perf_counter()
        for item in listing:
            if item["id"] in pending and item["status"] in ("waitingForPublisherReview", "failed"):
                if item["status"] == "failed":
                    raise SystemExit(f"offer {item['id']} failed: see the status endpoint")
                pending.discard(item["id"])
                latencies[item["id"]] = now - started[item["id"]]
        time.sleep(0.1)
    if pending:
        raise SystemExit(f"{len(pending)} offers never reached the preview")
    return n / (time.perf_counter() - t0), sorted(latencies.values())


async def bare_loop(stack: Stack, pages: Path, n: int, docs: tuple[dict[str, Any], dict[str, Any]]
                    ) -> tuple[stage_loop.Result, stage_loop.Result]:
    """(alone, burst): one offer, then n offers, through the stage loop (one event loop: its adapters bind to it)."""
    stages = stage_loop.build_stages(stack.env(), pages)

    def requests(count: int, doc: dict[str, Any]) -> list[Any]:
        return [stage_loop.publish_request("bench", f"bare-{uuid.uuid4().hex[:8]}", doc["definition"])
                for _ in range(count)]

    alone = await stage_loop.run(stages, requests(1, docs[0]))
    burst = await stage_loop.run(stages, requests(n, docs[1]))
    return alone, burst


HANDLER_SUM = re.compile(r'^offerflow_handler_seconds_sum\{[^}]*service="([^"]+)"[^}]*\} (\S+)$', re.M)


def handler_seconds(stack: Stack) -> dict[str, float]:
    """Seconds each stage service spent in its handlers so far (its /metrics), summed over event types."""
    total: dict[str, float] = {}
    for name in STAGES:
        text = httpx.get(f"http://127.0.0.1:{stack.ports.web[name]}/metrics", timeout=10).text
        total[name] = sum(float(v) for svc, v in HANDLER_SUM.findall(text) if svc == name)
    return total


def pct(latencies: list[float]) -> str:
    p50 = statistics.median(latencies)
    p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
    return f"p50 {p50:7.2f} s  p95 {p95:7.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=200, help="offers in the burst (default 200)")
    parser.add_argument("--image-mib", type=int, default=20,
                        help="each phase's disk image in MiB (default 20, the smallest Linux OS disk certified)")
    args = parser.parse_args()
    ports = _infra_ports()
    if ports is None or not os.environ.get("OFFERFLOW_OBJECTSTORES_FILE"):
        raise SystemExit("run through `make bench` (needs the private broker, database and object stores)")
    regions = len(json.loads(Path(os.environ["OFFERFLOW_OBJECTSTORES_FILE"]).read_text())["regions"])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        stack = Stack(run_dir=work / "stack", ports=ports)
        docs = [fresh_image(work / f"image-{i}", args.image_mib)[1] for i in range(4)]
        relay = asyncio.run(bare_chain(stack.kafka_bootstrap, args.n))
        bare1, bare = asyncio.run(bare_loop(stack, work / "bare-pages", args.n, (docs[0], docs[1])))
        stack.start_services(timeout=120)
        try:
            client = httpx.Client(base_url=stack.api_url, timeout=60,
                                  headers={"Authorization": f"Bearer {create_publisher(stack, 'bench')}"})
            _, flow_lat1 = pipeline(stack, client, 1, docs[2])
            before = handler_seconds(stack)
            rate, lat = pipeline(stack, client, args.n, docs[3])
            after = handler_seconds(stack)
        finally:
            stack.stop_services()
    print(f"offers                 {args.n} per burst, {regions} region endpoints, a {args.image_mib} MiB image "
          "per phase (certified and copied once, then reused by the burst's other offers)")
    print(f"context: bare aiokafka relay {relay:8.1f} offers/s ({HOPS} hops, no work); "
          f"offerflow / relay = {rate / relay:.3f}")
    print(f"bare stage loop        {bare.rate:8.2f} offers/s (one process, no Kafka: the services' handlers, "
          "same adapters, endpoints and concurrency)")
    print(f"offerflow pipeline     {rate:8.2f} offers/s (publish → preview, every service on Kafka)")
    print(f"one offer alone        bare {bare1.latencies[0]:7.2f} s   offerflow {flow_lat1[0]:7.2f} s  "
          "(publish → preview)")
    print(f"burst bare             {pct(bare.latencies)}")
    print(f"burst offerflow        {pct(lat)}")
    # Where the time goes: a stage's handler time per offer, beside the same stage in the bare loop.
    for name in STAGES:
        ours = (after[name] - before[name]) / args.n
        print(f"handler s/offer        {name:14} bare {bare.busy[name] / args.n:7.3f}  offerflow {ours:7.3f}")
    print(f"ratio                  {rate / bare.rate:8.3f}  (offers/s offerflow / bare stage loop: the orchestration "
          "overhead; goal >= 0.8)")


if __name__ == "__main__":
    main()
