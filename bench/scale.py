"""Scale-out: offers/s through provisioning with one, then two, instances of certification and provisioning.

The second instance of each service is the same console script with another Faust web port: it joins the
same consumer group (the app id), so Kafka splits the six partitions of each topic between the two. Both
phases run in the same stack and the same run, each with its own N offers and its own distinct images
(no certification report is reused); the ratio compares them. Needs the broker and database of
``deploy/dev/stack.py with-infra`` (``make bench`` style):

    uv run python deploy/dev/stack.py with-infra .run/scale -- uv run python bench/scale.py -n 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment as Assignment

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "deploy/dev")]

from stack import BIN, Stack, create_publisher, free_port, port_open  # noqa: E402

from tests.chaos.traffic import distinct_images  # noqa: E402
from tests.conftest import _infra_ports  # noqa: E402
from tests.e2e.client import V, offer_doc  # noqa: E402

# Each scaled service and the topic it consumes.
SCALED = {"certification": "offerflow.validation", "provisioning": "offerflow.certification"}


def start_second_instance(stack: Stack, name: str, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Another process of ``name`` in the same consumer group, on its own web port and working directory."""
    port = free_port()
    env = {**stack.env(), f"OFFERFLOW_{name.upper()}_WEB_PORT": str(port)}
    cwd = workdir / f"{name}-2"  # Faust keeps a data folder per app id in its working directory
    cwd.mkdir(parents=True, exist_ok=True)
    log = open(stack.run_dir / "logs" / f"{name}-2.log", "ab")  # noqa: SIM115 - owned by the child process
    proc = subprocess.Popen([str(BIN / f"offerflow-{name}")], env=env, cwd=cwd, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    return proc, port


async def group_members(bootstrap: str, group: str, topic: str) -> list[int]:
    """How many partitions of ``topic`` each member of ``group`` holds; empty while the group rebalances."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (resp,) = await admin.describe_consumer_groups([group])
        (grp,) = resp.groups
        state, members = grp[2], grp[5]
        if state != "Stable":
            return []
        return [sum(len(parts) for t, parts in Assignment.decode(m[4]).assignment if t == topic)
                for m in members]
    finally:
        await admin.close()


def wait_split(stack: Stack, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    for name, topic in SCALED.items():
        while True:
            sizes = asyncio.run(group_members(stack.kafka_bootstrap, f"offerflow-{name}", topic))
            if len(sizes) == 2 and all(sizes):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"offerflow-{name}: the group never split between two members ({sizes})")
            time.sleep(1)
        print(f"offerflow-{name}: partitions of {topic} per instance {sizes}", flush=True)


async def watch_provisioned(bootstrap: str, offers: set[str], ready: asyncio.Event,
                            done: dict[str, float]) -> None:
    """Records when each offer's provisioning.passed is on the topic."""
    consumer = AIOKafkaConsumer("offerflow.provisioning", bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="latest")
    await consumer.start()
    try:
        await consumer.seek_to_end()
        ready.set()
        while len(done) < len(offers):
            batch = await consumer.getmany(timeout_ms=1000)
            now = time.perf_counter()
            for records in batch.values():
                for r in records:
                    key = (r.key or b"").decode()
                    if key in offers and key not in done and json.loads(r.value or b"{}").get(
                            "event_type") == "provisioning.passed":
                        done[key] = now
    finally:
        await consumer.stop()


async def phase(stack: Stack, token: str, images: list[Path], label: str, limit: float) -> float:
    offers = [f"scale-{label}-{uuid.uuid4().hex[:6]}-{i:03d}" for i in range(len(images))]
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        for o, image in zip(offers, images, strict=True):
            doc = offer_doc(image, publisher="bench")
            r = await client.put(f"/api/publishers/bench/offers/{o}", params=V, json=doc,
                                 headers={"If-Match": "*"})
            r.raise_for_status()
        ready, done = asyncio.Event(), dict[str, float]()
        watcher = asyncio.create_task(watch_provisioned(stack.kafka_bootstrap, set(offers), ready, done))
        await ready.wait()
        t0 = time.perf_counter()
        for o in offers:
            r = await client.post(f"/api/publishers/bench/offers/{o}/publish", params=V,
                                  json={"metadata": {"notification-emails": "bench@example.com"}})
            r.raise_for_status()
        try:
            await asyncio.wait_for(watcher, limit)
        except TimeoutError:
            raise SystemExit(f"{label}: only {len(done)}/{len(offers)} offers provisioned in {limit:.0f}s") from None
    return float(len(offers) / (max(done.values()) - t0))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=100, help="offers per phase")
    args = parser.parse_args()
    ports = _infra_ports()
    if ports is None:
        raise SystemExit("run through `deploy/dev/stack.py with-infra` (needs the private broker and database)")
    timeout = 120 + args.n * 10.0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        stack = Stack(run_dir=work / "stack", ports=ports)
        one = [p for p, _ in distinct_images(work / "images-1", args.n)]
        two = [p for p, _ in distinct_images(work / "images-2", args.n)]
        extra: list[subprocess.Popen[bytes]] = []
        stack.start_services(timeout=120)
        try:
            token = create_publisher(stack, "bench")
            single = asyncio.run(phase(stack, token, one, "x1", timeout))
            shutil.rmtree(stack.run_dir / "regions", ignore_errors=True)  # keep the disk for phase two
            for name in SCALED:
                proc, port = start_second_instance(stack, name, work)
                extra.append(proc)
                while not port_open(port):
                    if proc.poll() is not None:
                        raise SystemExit(f"second {name} exited with {proc.returncode}")
                    time.sleep(0.2)
            wait_split(stack)
            double = asyncio.run(phase(stack, token, two, "x2", timeout))
        finally:
            for proc in extra:
                proc.terminate()
                proc.wait(timeout=30)
            stack.stop_services()
    print(f"offers per phase                    {args.n}")
    print(f"1 certification + 1 provisioning    {single:8.2f} offers/s (publish → provisioning.passed)")
    print(f"2 certification + 2 provisioning    {double:8.2f} offers/s")
    print(f"ratio                               {double / single:8.2f}")


if __name__ == "__main__":
    main()
