"""Scale-out on the three-broker cluster: offers/s through provisioning with one, then two, processes of every stage.

The second process of each stage (``Stack(instances=2)``: "validation-2", "certification-2", ...) is the same
console script on another web port: it joins the same consumer group (the app id), so Kafka splits the six
partitions of each topic between the two. Both phases run in the same stack and the same run, each with its own N
offers and its own distinct 20 MiB images (no certification report is reused); the ratio compares them.

The work is CPU-bound: small images, so each offer costs Python (decode, handler, SHA-256 of 20 MiB), PostgreSQL and
the brokers, all on this machine's cores; nothing in a step waits on a slow outside system. The CPU seconds of
every process in each phase (from /proc, as ``ps`` shows them) and the machine's busy share are printed, so a ratio
below the goal (1.7) says whether the cores were the limit.

    make bench-scale        # stack.py with-infra --cluster .run/bench-scale -- uv run python bench/scale.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment as Assignment
from aiokafka.errors import KafkaError

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "deploy/dev")]

from stack import SCALABLE, Stack, create_publisher, port_open  # noqa: E402

from tests.chaos.traffic import distinct_images  # noqa: E402
from tests.conftest import _infra_ports  # noqa: E402
from tests.e2e.client import V, offer_doc  # noqa: E402

# Each stage up to provisioning.passed and the topic it consumes (staging and later run too, off the clock).
SCALED = {"validation": "offerflow.publishing", "certification": "offerflow.validation",
          "provisioning": "offerflow.certification"}
TICK = os.sysconf("SC_CLK_TCK")
GOAL = 1.7


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` (all its threads, and its children it waited for), like ``ps``'s TIME."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / TICK


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / TICK, sum(values) / TICK


def pids(stack: Stack) -> dict[str, int]:
    found = {name: p.pid for name, p in stack.procs.items() if p.poll() is None}
    if stack.cluster is not None:
        for node in stack.cluster.node_ids:
            pid = stack.cluster.pid(node)
            if pid is not None:
                found[f"kafka-{node}"] = pid
    return found


def snapshot(stack: Stack) -> tuple[dict[str, float], tuple[float, float]]:
    return {name: cpu_seconds(pid) for name, pid in pids(stack).items()}, machine_busy()


async def group_members(bootstrap: str, group: str, topic: str) -> list[int]:
    """How many partitions of ``topic`` each member of ``group`` holds; empty while the group rebalances."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        try:
            (resp,) = await admin.describe_consumer_groups([group])
        except KafkaError:  # no coordinator yet (the group's offsets partition just moved): ask again
            return []
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


def start_and_wait(stack: Stack, names: list[str], timeout: float = 180.0) -> None:
    for name in names:
        stack.start(name)
    deadline = time.monotonic() + timeout
    def ready(name: str) -> bool:
        if name == "status-api":
            return port_open(stack.ports.api) and stack._api_ready()
        return port_open(stack.ports.mail_http if name == "mailsink" else stack.ports.web[name])

    for name in names:
        while not ready(name):
            if stack.procs[name].poll() is not None:
                raise SystemExit(f"{name} exited with {stack.procs[name].returncode}; see {stack.run_dir}/logs")
            if time.monotonic() > deadline:
                raise SystemExit(f"{name} not ready after {timeout:.0f}s")
            time.sleep(0.2)


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


def report(label: str, before: tuple[dict[str, float], tuple[float, float]],
           after: tuple[dict[str, float], tuple[float, float]], wall: float) -> tuple[float, float]:
    """Prints each process's CPU seconds in the phase; returns the machine's busy share (0..1 of every core) and
    the stack's share of that busy time."""
    (b, (mb, mt)), (a, (ab, at)) = before, after
    busy = (ab - mb) / max(at - mt, 1e-9)
    used = {name: a[name] - b.get(name, 0.0) for name in a}
    # What the rest of the machine took (other programs on shared cores) is what the stack could not have.
    print(f"{label}: {wall:.1f} s, machine busy {busy * 100:.0f}% of {os.cpu_count()} cores ({ab - mb:.0f} CPU s), "
          f"the stack's processes {sum(v for v in used.values() if v > 0):.0f} CPU s; per process:")
    print("   " + ", ".join(f"{n} {v:.1f}" for n, v in sorted(used.items(), key=lambda kv: -kv[1]) if v >= 0.05))
    return busy, sum(v for v in used.values() if v > 0) / max(ab - mb, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=40, help="offers per phase")
    args = parser.parse_args()
    ports = _infra_ports()
    if ports is None:
        raise SystemExit("run through `deploy/dev/stack.py with-infra --cluster` (make bench-scale)")
    timeout = 120 + args.n * 10.0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        stack = Stack(run_dir=work / "stack", ports=ports, instances=2)
        if stack.cluster is None:
            print("note: no cluster (OFFERFLOW_KAFKA_CLUSTER_FILE unset): measuring on the single broker", flush=True)
        one = [p for p, _ in distinct_images(work / "images-1", args.n)]
        two = [p for p, _ in distinct_images(work / "images-2", args.n)]
        seconds = [n for s in SCALABLE for n in stack.instance_names(s)[1:]]
        try:
            stack.start("relay")
            start_and_wait(stack, ["mailsink", "status-api", *SCALABLE])
            token = create_publisher(stack, "bench")
            t0, s0 = time.perf_counter(), snapshot(stack)
            single = asyncio.run(phase(stack, token, one, "x1", timeout))
            busy1, own1 = report("one process per stage", s0, snapshot(stack), time.perf_counter() - t0)
            shutil.rmtree(stack.run_dir / "regions", ignore_errors=True)  # keep the disk for phase two
            start_and_wait(stack, seconds)
            wait_split(stack)
            t0, s0 = time.perf_counter(), snapshot(stack)
            double = asyncio.run(phase(stack, token, two, "x2", timeout))
            busy2, own2 = report("two processes per stage", s0, snapshot(stack), time.perf_counter() - t0)
        finally:
            stack.stop_services()
    ratio = double / single
    print(f"offers per phase                    {args.n} (20 MiB images; publish -> provisioning.passed)")
    print(f"one process per stage               {single:8.2f} offers/s")
    print(f"two processes per stage            {double:8.2f} offers/s")
    print(f"ratio                               {ratio:8.2f} (goal >= {GOAL})")
    if ratio < GOAL:
        if busy2 >= 0.85:
            print(f"why: the machine's cores were {busy1 * 100:.0f}% busy with one process per stage and "
                  f"{busy2 * 100:.0f}% with two, the stack's processes taking {own1 * 100:.0f}% and {own2 * 100:.0f}% "
                  f"of that: the work is CPU-bound and {os.cpu_count()} cores leave no room for the second processes' "
                  "share (other programs took the rest; see the CPU seconds per process above)")
        else:
            print(f"why: the cores were not the limit ({busy2 * 100:.0f}% busy with two processes per stage): "
                  "look at the busiest process above")


if __name__ == "__main__":
    main()
