"""A local three-node KRaft cluster: ``with-infra --cluster`` and ``up --cluster`` start it, fault tests steer it.

Each node is ``deploy/kafka/bin/kafka-start`` (combined broker+controller, the same Maven-resolved Kafka as the
single dev broker) with its own node id, ports and folder ``<dir>/kafka-<id>``; all three are voters. The brokers
keep every partition on three nodes and count a write once two hold it (``min.insync.replicas=2``), so one node
may die without losing an acknowledged write or stopping the producers.

``start`` writes ``<dir>/cluster.json`` (node ids, ports, folders, pids); ``KafkaCluster.from_env()`` reads the
file named by ``OFFERFLOW_KAFKA_CLUSTER_FILE``, so a test process steers the cluster its runner started.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from procs import alive, free_port, port_open, recorded_pid

ROOT = Path(__file__).resolve().parents[2]
KAFKA_BIN = ROOT / "deploy/kafka/bin"
CLUSTER_FILE_ENV = "OFFERFLOW_KAFKA_CLUSTER_FILE"
REPLICATION, MIN_ISR = 3, 2
T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Runs ``coro`` to completion from sync code, also when the caller is itself inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Node:
    id: int
    port: int
    controller_port: int
    dir: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class KafkaCluster:
    dir: Path
    nodes: list[Node]
    cluster_id: str = field(default_factory=lambda: _random_cluster_id())  # shared by the nodes' storage
    heap: str = "384m"

    @classmethod
    def new(cls, dir: Path, size: int = 3, base_port: int | None = None) -> KafkaCluster:
        """A cluster description (nothing started): on free ports, or from ``base_port`` on (node 1 on
        ``base_port``/``base_port + 1``, node 2 on the next two, ...), which ``make up-cluster`` uses so that the
        stock tools' default (127.0.0.1:9092) reaches node 1."""
        d = dir.resolve()

        def ports(i: int) -> tuple[int, int]:
            return (free_port(), free_port()) if base_port is None else (base_port + 2 * i - 2, base_port + 2 * i - 1)

        return cls(d, [Node(i, *ports(i), d / f"kafka-{i}") for i in range(1, size + 1)])

    @classmethod
    def load(cls, file: Path) -> KafkaCluster:
        data = json.loads(file.read_text())
        nodes = [Node(int(n["id"]), int(n["port"]), int(n["controller_port"]), Path(n["dir"])) for n in data["nodes"]]
        return cls(Path(data["dir"]), nodes, str(data["cluster_id"]), str(data.get("heap", "384m")))

    @classmethod
    def from_env(cls) -> KafkaCluster:
        named = os.environ.get(CLUSTER_FILE_ENV)
        if not named:
            raise RuntimeError(f"{CLUSTER_FILE_ENV} is not set: run under `deploy/dev/stack.py with-infra --cluster`")
        return cls.load(Path(named))

    @property
    def file(self) -> Path:
        return self.dir / "cluster.json"

    @property
    def bootstrap(self) -> str:
        return ",".join(n.address for n in self.nodes)

    @property
    def node_ids(self) -> list[int]:
        return [n.id for n in self.nodes]

    @property
    def voters(self) -> str:
        return ",".join(f"{n.id}@127.0.0.1:{n.controller_port}" for n in self.nodes)

    def node(self, node_id: int) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(f"no node {node_id} in this cluster (nodes {self.node_ids})")

    def pid(self, node_id: int) -> int | None:
        """The live broker process of ``node_id`` (its pid file, checked against /proc), or None."""
        return recorded_pid(self.node(node_id).dir / "kafka.pid", b"kafka.Kafka")

    def exited(self, node_id: int) -> bool:
        """Whether the process ``kafka-start`` recorded for ``node_id`` is gone (just after the start, the
        recorded pid may still be the shell about to become the broker: that one is not gone)."""
        try:
            pid = int((self.node(node_id).dir / "kafka.pid").read_text().strip())
        except (OSError, ValueError):
            return True
        return not alive(pid)

    def node_env(self, node_id: int) -> dict[str, str]:
        """What ``kafka-start`` / ``kafka-stop`` need to act on one node."""
        n = self.node(node_id)
        return {**os.environ, "OFFERFLOW_KAFKA_RUN_DIR": str(n.dir), "OFFERFLOW_KAFKA_PORT": str(n.port),
                "OFFERFLOW_KAFKA_CONTROLLER_PORT": str(n.controller_port), "OFFERFLOW_KAFKA_NODE_ID": str(n.id),
                "OFFERFLOW_KAFKA_VOTERS": self.voters, "OFFERFLOW_KAFKA_CLUSTER_ID": self.cluster_id,
                "OFFERFLOW_KAFKA_REPLICATION": str(REPLICATION), "OFFERFLOW_KAFKA_MIN_ISR": str(MIN_ISR),
                "OFFERFLOW_KAFKA_HEAP": self.heap, "OFFERFLOW_KAFKA_STOP_TIMEOUT": "15"}

    def env(self) -> dict[str, str]:
        """For the processes of a stack on this cluster: every broker to bootstrap from, RF 3 for what the
        services create, the file that describes the cluster, and node 1 for the stock tools' default."""
        first = self.nodes[0]
        return {"OFFERFLOW_KAFKA_BOOTSTRAP": self.bootstrap, "OFFERFLOW_KAFKA_REPLICATION_FACTOR": str(REPLICATION),
                CLUSTER_FILE_ENV: str(self.file), "OFFERFLOW_KAFKA_PORT": str(first.port),
                "OFFERFLOW_KAFKA_CONTROLLER_PORT": str(first.controller_port),
                "OFFERFLOW_KAFKA_RUN_DIR": str(first.dir)}

    def write_file(self) -> None:
        data = {"dir": str(self.dir), "cluster_id": self.cluster_id, "heap": self.heap, "bootstrap": self.bootstrap,
                "nodes": [{"id": n.id, "port": n.port, "controller_port": n.controller_port, "dir": str(n.dir),
                           "pid": self.pid(n.id)} for n in self.nodes]}
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(self.file)

    # --- lifecycle ------------------------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> None:
        """Starts every node (all at once: none answers before a majority of voters runs), waits for all."""
        for n in self.nodes:
            subprocess.run([str(KAFKA_BIN / "kafka-start"), "--no-wait"], env=self.node_env(n.id), check=True,
                           stdout=subprocess.DEVNULL)
        self.write_file()
        self.wait_brokers(self.node_ids, timeout)
        self.write_file()

    def stop(self) -> None:
        """Stops every node at once (a node stopped alone would wait for the others to take its leaderships)."""
        procs = [subprocess.Popen([str(KAFKA_BIN / "kafka-stop")], env=self.node_env(n.id), stdout=subprocess.DEVNULL)
                 for n in self.nodes]
        for p in procs:
            p.wait()

    def kill(self, node_id: int) -> None:
        """kill -9 of one node: a crash, its data left as it was."""
        subprocess.run([str(KAFKA_BIN / "kafka-stop"), "--kill"], env=self.node_env(node_id), check=True,
                       stdout=subprocess.DEVNULL)
        self.write_file()

    def start_node(self, node_id: int, timeout: float = 90.0) -> None:
        """Restarts one node on its own data; returns once it is a registered broker again."""
        subprocess.run([str(KAFKA_BIN / "kafka-start"), "--no-wait"], env=self.node_env(node_id), check=True,
                       stdout=subprocess.DEVNULL)
        self.write_file()
        self.wait_brokers([node_id], timeout)

    # --- observation ----------------------------------------------------------------------------------

    def wait_brokers(self, node_ids: list[int], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        seen: set[int] = set()
        while time.monotonic() < deadline:
            for i in node_ids:
                if self.exited(i):
                    raise RuntimeError(f"kafka node {i} exited; see {self.node(i).dir / 'kafka.log'}")
            if not all(port_open(self.node(i).port) for i in node_ids):
                time.sleep(0.3)  # the client would log every refused connection
                continue
            try:
                seen = set(_run(self._brokers()))
            except Exception:  # not answering yet: no quorum, or the broker is still starting
                seen = set()
            if set(node_ids) <= seen:
                return
            time.sleep(0.5)
        raise TimeoutError(f"kafka nodes {sorted(set(node_ids) - seen)} not registered after {timeout:.0f}s")

    def wait_healthy(self, timeout: float = 120.0) -> None:
        """Until every partition of every topic has a leader and at least ``MIN_ISR`` replicas in sync."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                bad = [f"{t}/{p['partition']} leader {p['leader']} isr {p['isr']}"
                       for t, parts in _run(self._partitions()).items() for p in parts
                       if p["leader"] < 0 or len(p["isr"]) < MIN_ISR]
                if not bad:
                    return
                last = f"{len(bad)} partitions not healthy, e.g. {bad[:3]}"
            except Exception as exc:  # a broker just died or is still starting: ask again
                last = repr(exc)
            time.sleep(0.5)
        raise TimeoutError(f"cluster not healthy after {timeout:.0f}s: {last}")

    def leaders(self, topic: str) -> dict[int, int]:
        """partition -> node id of its leader (-1: none)."""
        parts = _run(self._partitions([topic]))[topic]
        return {int(p["partition"]): int(p["leader"]) for p in parts}

    def under_replicated(self) -> int:
        """How many partitions have fewer replicas in sync than assigned."""
        return sum(1 for parts in _run(self._partitions()).values() for p in parts
                   if len(p["isr"]) < len(p["replicas"]))

    def replication(self, topic: str) -> list[int]:
        """The number of replicas of each partition of ``topic``."""
        return [len(p["replicas"]) for p in _run(self._partitions([topic]))[topic]]

    def active_controller(self) -> int:
        """The node leading the metadata quorum, from Kafka's own quorum tool (KRaft brokers report a random
        broker as "controller" to clients, so the metadata answer cannot tell)."""
        out = self.quorum_status()
        for line in out.splitlines():
            if line.startswith("LeaderId:"):
                return int(line.split(":", 1)[1])
        raise RuntimeError(f"no LeaderId in kafka-metadata-quorum's answer: {out!r}")

    def voter_ids(self) -> list[int]:
        for line in self.quorum_status().splitlines():
            if line.startswith("CurrentVoters:"):
                return sorted(int(v) for v in _ids(line.split(":", 1)[1]))
        raise RuntimeError("no CurrentVoters in kafka-metadata-quorum's answer")

    def quorum_status(self) -> str:
        live = [n for n in self.nodes if self.pid(n.id) is not None]
        if not live:
            raise RuntimeError("no kafka node is running")
        servers = ",".join(f"127.0.0.1:{n.controller_port}" for n in live)
        done = subprocess.run([str(KAFKA_BIN / "kafka-metadata-quorum"), "--bootstrap-controller", servers,
                               "describe", "--status"], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"kafka-metadata-quorum failed: {done.stderr.strip()[-500:]}")
        return done.stdout

    async def _brokers(self) -> list[int]:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
        await admin.start()
        try:
            return [int(b["node_id"]) for b in (await admin.describe_cluster())["brokers"]]
        finally:
            await admin.close()

    async def _partitions(self, topics: list[str] | None = None) -> dict[str, list[dict[str, Any]]]:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
        await admin.start()
        try:
            names = topics if topics is not None else await admin.list_topics()
            described = await admin.describe_topics(list(names))
        finally:
            await admin.close()
        out: dict[str, list[dict[str, Any]]] = {}
        for t in described:
            if t["error_code"] != 0:
                raise RuntimeError(f"topic {t['topic']}: metadata error {t['error_code']}")
            out[t["topic"]] = [{"partition": p["partition"], "leader": p["leader"], "replicas": list(p["replicas"]),
                                "isr": list(p["isr"])} for p in t["partitions"]]
        return out


def cluster_from_env() -> KafkaCluster | None:
    """The cluster named by ``OFFERFLOW_KAFKA_CLUSTER_FILE``, or None (the single broker)."""
    return KafkaCluster.from_env() if os.environ.get(CLUSTER_FILE_ENV) else None


def _ids(text: str) -> list[str]:
    """Node ids in the quorum tool's voter list, e.g. ``[1, 2, 3]`` or ``[{"id": 1, ...}, ...]``."""
    found = re.findall(r'"id":\s*(\d+)', text)
    return found or re.findall(r"\d+", text)


def _random_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, url-safe base64 without padding (what ``random-uuid`` prints)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
