"""Faults of the chaos suite's cluster mode: brokers of a three-node KRaft cluster and service instances killed.

Two schedules run side by side while the offers flow:

* the brokers, one at a time: kill -9 a node (the active controller, the leader of the busiest partitions, or any
  node, every role at least once), keep it down a few seconds so that leadership really moves, start it again
  and wait, bounded, until every partition has its full in-sync replica set before the next kill;
* the service instances (two of every stage): kill -9 one instance, going round the services so that each
  stage's partitions are taken over by its other instance (a rebalance in the middle of a step), start it
  again; PostgreSQL crashes and restarts once in between.

The cluster and the stack are reached through the small protocols below, so the scheduling is tested against
fakes (``tests/chaos/test_cluster_faults.py``) and runs unchanged against ``deploy/dev/cluster.py``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tests.chaos.faults import DATABASE, KILLABLE, FaultRecord, Injector
from tests.chaos.load import Writes, WriteSampler, busiest_leader

CONTROLLER, LEADER, ANY = "controller", "busiest-leader", "any"
BROKER_KILL, INSTANCE_KILL = "broker-kill", "kill"


class Cluster(Protocol):
    """What the fault schedule needs of the broker cluster (``KafkaCluster`` of ``deploy/dev/cluster.py``)."""

    @property
    def bootstrap(self) -> str: ...
    @property
    def node_ids(self) -> Sequence[int]: ...
    def kill(self, node_id: int) -> None: ...
    def start_node(self, node_id: int, timeout: float = ...) -> None: ...  # returns once registered again
    def wait_healthy(self, timeout: float) -> Any: ...
    def active_controller(self) -> int: ...
    def leaders(self, topic: str) -> Mapping[int, int]: ...  # partition -> leader node (-1: none)
    def under_replicated(self) -> int: ...  # partitions with fewer replicas in sync than assigned


@dataclass(frozen=True)
class ClusterChaos:
    """How many of each fault a cluster-mode run injects, and how they are spaced (seconds)."""

    broker_kills: int = 6
    instance_kills: int = 10
    postgres_restarts: int = 1
    broker_gap: tuple[float, float] = (8.0, 20.0)  # between a healed cluster and the next broker kill
    broker_down: tuple[float, float] = (3.0, 10.0)  # how long a killed broker stays down
    instance_gap: tuple[float, float] = (8.0, 20.0)
    instance_down: tuple[float, float] = (0.0, 5.0)
    heal_timeout: float = 240.0  # bound on each wait for the full ISR after a broker restart
    stall_limit: float = 900.0  # the longest an offer may go without progress (queueing included)

    def __post_init__(self) -> None:
        if self.broker_kills < 2:
            raise ValueError("broker_kills must be >= 2: the active controller and the busiest leader once each")
        if self.instance_kills < 0 or self.postgres_restarts < 0:
            raise ValueError("instance_kills and postgres_restarts must be >= 0")
        for name in ("broker_gap", "broker_down", "instance_gap", "instance_down"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise ValueError(f"{name} must be (low, high) with 0 <= low <= high, got {(lo, hi)}")

    @classmethod
    def for_offers(cls, offers: int) -> ClusterChaos:
        """The full run's faults for 200 offers or more; fewer offers (a quick check) get fewer, closer faults."""
        if offers < 4:
            raise ValueError(f"a cluster chaos run needs >= 4 offers (one of every kind), got {offers}")
        if offers >= 200:
            return cls()
        return cls(broker_kills=max(2, min(6, offers // 10)), instance_kills=max(2, min(10, offers // 4)),
                    broker_gap=(5.0, 12.0), broker_down=(2.0, 6.0), instance_gap=(4.0, 10.0))


def broker_plan(rng: random.Random, kills: int) -> list[str]:
    """The role of each broker to kill: the controller and the busiest leader first (in a random order), then
    rounds of every role, each round shuffled."""
    roles = [CONTROLLER, LEADER]
    rng.shuffle(roles)
    while len(roles) < kills:
        rnd = [CONTROLLER, LEADER, ANY]
        rng.shuffle(rnd)
        roles += rnd
    return roles[:kills]


def instance_plan(rng: random.Random, kills: int, instances: Mapping[str, Sequence[str]],
                  postgres_restarts: int) -> list[str]:
    """``kills`` instance names going round the services (each round in a random order, each service's instances
    in turn from a random one), PostgreSQL's restarts mixed in anywhere but first (the first fault lands on a
    running stage)."""
    services = [s for s, names in instances.items() if names]
    if kills and not services:
        raise ValueError("no service instance to kill")
    turn = {s: rng.randrange(len(instances[s])) for s in services}  # which instance of a service goes first
    targets: list[str] = []
    while len(targets) < kills:
        order = list(services)
        rng.shuffle(order)
        for s in order[: kills - len(targets)]:
            names = instances[s]
            targets.append(names[turn[s] % len(names)])
            turn[s] += 1
    for _ in range(postgres_restarts):
        targets.insert(rng.randrange(1, len(targets) + 1) if targets else 0, DATABASE)
    return targets


def heal(cluster: Cluster, timeout: float, poll: float = 1.0) -> float:
    """Waits until every partition has a leader and its full in-sync replica set; the seconds it took.

    Raises TimeoutError after ``timeout`` seconds: the next broker kill must not come before the ISR is full.
    """
    t0 = time.monotonic()
    deadline = t0 + timeout
    cluster.wait_healthy(timeout)  # a leader and min.insync replicas everywhere; raises when not within timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            lagging = cluster.under_replicated()
        except Exception as exc:  # the metadata request failed (a broker still settling): ask again
            last = repr(exc)
        else:
            if not lagging:
                return time.monotonic() - t0
            last = f"{lagging} partitions under-replicated"
        time.sleep(poll)
    raise TimeoutError(f"ISR not full {timeout:.0f}s after the restart: {last}")


class _Loop(threading.Thread):
    def __init__(self, name: str, stop: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self.stop = stop
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.body()
        except BaseException as exc:  # reported by the driver, which fails the run
            self.error = exc
            self.stop.set()  # the other schedule stops too: the run is failed anyway

    def body(self) -> None:
        raise NotImplementedError

    def _record(self, injector: Injector, kind: str, target: str, t0: float, note: str = "") -> None:
        rec = FaultRecord(kind, target, round(t0 - injector.started, 1), round(time.monotonic() - t0, 1))
        with injector.lock:
            injector.records.append(rec)
        print(f"[chaos] +{rec.at:6.1f}s {kind:16} {target} ({rec.took:.1f}s{note})", flush=True)


class BrokerLoop(_Loop):
    """Kills brokers one at a time by role; restarts each and waits for the full ISR before the next."""

    heal_poll = 1.0  # seconds between two looks at the ISR

    def __init__(self, cluster: Cluster, injector: Injector, roles: Sequence[str], rng: random.Random,
                 cfg: ClusterChaos, topics: Sequence[str], sample_writes: Callable[[], Writes],
                 stop: threading.Event) -> None:
        super().__init__("chaos-brokers", stop)
        self.cluster, self.injector, self.roles, self.rng, self.cfg = cluster, injector, list(roles), rng, cfg
        self.topics, self.sample_writes = list(topics), sample_writes
        self.killed: list[tuple[str, int]] = []  # (role, node) in order

    def pick(self, role: str) -> int:
        nodes = list(self.cluster.node_ids)
        node: int | None = None
        try:
            if role == CONTROLLER:
                node = self.cluster.active_controller()
            elif role == LEADER:
                node = busiest_leader({t: self.cluster.leaders(t) for t in self.topics}, self.sample_writes())
        except Exception as exc:  # no answer: the kill must still happen, and any node still hurts
            print(f"[chaos] cannot tell the {role} ({exc!r}): killing any node", flush=True)
        if node is None or node not in nodes:
            node = self.rng.choice(nodes)
        return node

    def body(self) -> None:
        for role in self.roles:
            if self.stop.wait(self.rng.uniform(*self.cfg.broker_gap)):
                return
            node = self.pick(role)
            t0 = time.monotonic()
            self.cluster.kill(node)
            try:
                self.stop.wait(self.rng.uniform(*self.cfg.broker_down))  # cut short when the run stops
            finally:
                # Never leave a node down, whatever happens; a loaded machine may take minutes to replay its log.
                self.cluster.start_node(node, timeout=self.cfg.heal_timeout)
            healed = heal(self.cluster, self.cfg.heal_timeout, self.heal_poll)
            self.killed.append((role, node))
            self._record(self.injector, BROKER_KILL, f"node {node} ({role})", t0,
                         f", ISR full {healed:.1f}s after start")


class InstanceLoop(_Loop):
    """Kills service instances (and crashes PostgreSQL) in plan order, restarting each."""

    def __init__(self, injector: Injector, targets: Sequence[str], rng: random.Random, cfg: ClusterChaos,
                 stop: threading.Event, wait_up: Callable[[str], None]) -> None:
        super().__init__("chaos-instances", stop)
        self.injector, self.targets, self.rng, self.cfg, self.wait_up = injector, list(targets), rng, cfg, wait_up

    def body(self) -> None:
        for target in self.targets:
            if self.stop.wait(self.rng.uniform(*self.cfg.instance_gap)):
                return
            if target == DATABASE:
                self.injector.inject(DATABASE)  # pg-stop --kill, pg-start: recorded by the injector
                continue
            t0 = time.monotonic()
            with self.injector.lock:
                self.injector.stack.kill(target)
            try:
                self.stop.wait(self.rng.uniform(*self.cfg.instance_down))
            finally:
                with self.injector.lock:
                    self.injector.stack.start(target)
            self.wait_up(target)
            self._record(self.injector, INSTANCE_KILL, target, t0)


class ClusterFaults:
    """Both schedules, with the interface of ``faults.FaultLoop`` that the driver uses."""

    def __init__(self, brokers: BrokerLoop, instances: InstanceLoop) -> None:
        self.brokers, self.instances = brokers, instances
        self.stop = brokers.stop
        if instances.stop is not self.stop:
            raise ValueError("both schedules must share one stop event")

    @property
    def error(self) -> BaseException | None:
        return self.brokers.error or self.instances.error

    def start(self) -> None:
        self.brokers.start()
        self.instances.start()

    def is_alive(self) -> bool:
        return self.brokers.is_alive() or self.instances.is_alive()

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in (self.brokers, self.instances):
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))


def kill_counts(records: Sequence[FaultRecord]) -> dict[str, int]:
    return {"broker kills": sum(r.kind == BROKER_KILL for r in records),
            "instance kills": sum(r.kind == INSTANCE_KILL for r in records),
            "postgres restarts": sum(r.kind == "postgres-restart" for r in records)}


def killable_instances(instance_names: Callable[[str], Sequence[str]]) -> dict[str, list[str]]:
    """Every instance of every process the single-node mode kills (the stages, notifier, status-api's)."""
    return {s: list(instance_names(s)) for s in KILLABLE}


def schedule(stack: Any, cluster: Cluster, injector: Injector, rng: random.Random, cfg: ClusterChaos) -> ClusterFaults:
    """Both schedules for ``stack`` (its ``instance_names``) and ``cluster``, not started. A restarted instance
    counts as up once it listens on its web port again (restarted if it died at start), as in single-node mode."""
    from offerflow_contract.topics import PARTITIONS, all_topic_names

    stop = threading.Event()
    topics = all_topic_names(with_dlq=False)
    sampler = WriteSampler(cluster.bootstrap, topics, PARTITIONS)
    sampler()  # the baseline: the first busiest-leader pick counts the writes made since the run began
    roles = broker_plan(rng, cfg.broker_kills)
    targets = instance_plan(rng, cfg.instance_kills, killable_instances(stack.instance_names), cfg.postgres_restarts)
    print(f"[chaos] cluster plan: brokers {roles}; instances {targets}", flush=True)
    # One generator per thread, both drawn from the seed: the same seed replays the same gaps and victims.
    brokers_rng, instances_rng = random.Random(rng.random()), random.Random(rng.random())
    return ClusterFaults(BrokerLoop(cluster, injector, roles, brokers_rng, cfg, topics, sampler, stop),
                         InstanceLoop(injector, targets, instances_rng, cfg, stop, injector._wait_port))
