"""The cluster mode's fault scheduling against fakes of the broker cluster and the stack (no broker needed)."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from tests.chaos.cluster_faults import (
    ANY,
    CONTROLLER,
    LEADER,
    BrokerLoop,
    ClusterChaos,
    ClusterFaults,
    InstanceLoop,
    broker_plan,
    heal,
    instance_plan,
    kill_counts,
)
from tests.chaos.faults import DATABASE, Injector
from tests.chaos.load import busiest_leader
from tests.chaos.progress import longest_stall

FAST = ClusterChaos(broker_kills=4, instance_kills=5, broker_gap=(0, 0), broker_down=(0, 0), instance_gap=(0, 0),
                    instance_down=(0, 0), heal_timeout=5)
TOPIC = "offerflow.certification"


@dataclass
class FakeCluster:
    """Three nodes; a restarted node's partitions stay under-replicated for ``lag`` looks at the ISR."""

    controller: int = 2
    lag: int = 2
    lead: dict[int, int] = field(default_factory=lambda: {0: 1, 1: 3, 2: 3, 3: 2, 4: 1, 5: 2})
    down: set[int] = field(default_factory=set)
    events: list[tuple[str, int]] = field(default_factory=list)
    lagging: int = 0
    fail_controller: bool = False
    start_timeouts: list[float] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return "127.0.0.1:1"

    @property
    def node_ids(self) -> list[int]:
        return [1, 2, 3]

    def kill(self, node_id: int) -> None:
        assert not self.down, f"node {node_id} killed while {self.down} is down"
        assert self.lagging == 0, "a broker killed before the ISR healed"
        self.down.add(node_id)
        self.events.append(("kill", node_id))

    def start_node(self, node_id: int, timeout: float = 90.0) -> None:
        self.start_timeouts.append(timeout)
        self.down.discard(node_id)
        self.lagging = self.lag
        self.events.append(("start", node_id))

    def wait_healthy(self, timeout: float) -> None:
        assert not self.down

    def active_controller(self) -> int:
        if self.fail_controller:
            raise RuntimeError("no LeaderId")
        return self.controller

    def leaders(self, topic: str) -> dict[int, int]:
        return dict(self.lead) if topic == TOPIC else {p: -1 for p in self.lead}

    def under_replicated(self) -> int:
        n, self.lagging = self.lagging, max(0, self.lagging - 1)
        return n


@dataclass
class FakeStack:
    names: dict[str, list[str]] = field(default_factory=lambda: {
        "validation": ["validation-1", "validation-2"], "certification": ["certification-1", "certification-2"],
        "notifier": ["notifier-1"]})
    events: list[tuple[str, str]] = field(default_factory=list)

    def instance_names(self, service: str) -> list[str]:
        return self.names.get(service, [])

    def kill(self, name: str) -> None:
        self.events.append(("kill", name))

    def start(self, name: str) -> None:
        self.events.append(("start", name))


def injector(stack: FakeStack) -> Injector:
    inj = Injector(stack)
    inj._script = lambda *a: stack.events.append(("script", a[0]))  # type: ignore[method-assign]
    return inj


def broker_loop(cluster: FakeCluster, roles: list[str], writes: dict[tuple[str, int], int] | None = None,
                cfg: ClusterChaos = FAST) -> BrokerLoop:
    loop = BrokerLoop(cluster, injector(FakeStack()), roles, random.Random(1), cfg, [TOPIC, "offerflow.staging"],
                      lambda: writes or {}, threading.Event())
    loop.heal_poll = 0.01
    return loop


@pytest.mark.parametrize("seed", range(20))
def test_broker_plan_kills_the_controller_and_the_busiest_leader_first(seed: int) -> None:
    roles = broker_plan(random.Random(seed), 7)
    assert len(roles) == 7
    assert sorted(roles[:2]) == sorted([CONTROLLER, LEADER])
    assert set(roles[2:5]) == {CONTROLLER, LEADER, ANY}


@pytest.mark.parametrize("seed", range(20))
def test_instance_plan_goes_round_every_service_and_instance(seed: int) -> None:
    names = FakeStack().names
    plan = instance_plan(random.Random(seed), 10, names, postgres_restarts=1)
    assert plan.count(DATABASE) == 1 and plan[0] != DATABASE
    kills = [t for t in plan if t != DATABASE]
    assert len(kills) == 10
    first_round = {k.rsplit("-", 1)[0] for k in kills[:3]}
    assert first_round == set(names)  # every service once before any twice
    assert {"validation-1", "validation-2", "certification-1", "certification-2"} <= set(kills)


def test_instance_plan_refuses_a_stack_without_instances() -> None:
    with pytest.raises(ValueError, match="no service instance"):
        instance_plan(random.Random(0), 3, {"validation": []}, 0)


def test_busiest_leader_weighs_the_recent_writes_of_each_leader() -> None:
    leaders = {"a": {0: 1, 1: 2, 2: -1}, "b": {0: 3, 1: 2}}
    assert busiest_leader(leaders, {("a", 0): 10, ("a", 1): 6, ("b", 1): 5, ("a", 2): 99}) == 2
    assert busiest_leader(leaders, {("b", 0): 1}) == 3
    assert busiest_leader({"a": {0: -1}}, {("a", 0): 5}) is None


def test_config_refuses_too_few_broker_kills_and_bad_ranges() -> None:
    with pytest.raises(ValueError, match="broker_kills"):
        ClusterChaos(broker_kills=1)
    with pytest.raises(ValueError, match="broker_gap"):
        ClusterChaos(broker_gap=(5.0, 1.0))


def test_the_full_run_has_at_least_six_broker_and_ten_instance_kills_a_short_one_fewer() -> None:
    full = ClusterChaos.for_offers(200)
    assert (full.broker_kills, full.instance_kills, full.postgres_restarts) == (6, 10, 1)
    short = ClusterChaos.for_offers(20)
    assert (short.broker_kills, short.instance_kills) == (2, 5) and short.broker_gap < full.broker_gap
    with pytest.raises(ValueError, match="4 offers"):
        ClusterChaos.for_offers(3)


def test_heal_waits_for_the_full_isr_and_is_bounded() -> None:
    cluster = FakeCluster(lag=3)
    cluster.lagging = 3
    assert heal(cluster, 5, poll=0.01) < 1
    assert cluster.lagging == 0
    stuck = FakeCluster(lag=10**9)
    stuck.lagging = 10**9
    with pytest.raises(TimeoutError, match="under-replicated"):
        heal(stuck, 0.2, poll=0.01)


def test_broker_loop_kills_by_role_one_at_a_time_and_heals_between() -> None:
    cluster = FakeCluster(controller=2)
    writes = {(TOPIC, 1): 50, (TOPIC, 2): 50, (TOPIC, 0): 70}  # node 3 leads partitions 1 and 2: 100 writes
    loop = broker_loop(cluster, [CONTROLLER, LEADER, ANY, CONTROLLER], writes)
    loop.run()
    assert loop.error is None
    assert [node for role, node in loop.killed[:2]] == [2, 3]
    assert cluster.events[::2] == [("kill", n) for _, n in loop.killed]
    assert cluster.events[1::2] == [("start", n) for _, n in loop.killed]  # each restarted before the next kill
    assert kill_counts(loop.injector.records)["broker kills"] == 4
    assert cluster.start_timeouts == [FAST.heal_timeout] * 4  # a slow restart is bounded by the heal timeout


def test_broker_loop_kills_any_node_when_the_controller_is_unknown() -> None:
    cluster = FakeCluster(fail_controller=True)
    loop = broker_loop(cluster, [CONTROLLER])
    loop.run()
    assert loop.error is None and loop.killed[0][1] in cluster.node_ids


def test_broker_loop_fails_the_run_when_the_isr_never_heals_but_restarts_the_node() -> None:
    cluster = FakeCluster(lag=10**9)
    loop = broker_loop(cluster, [ANY, ANY], cfg=ClusterChaos(broker_kills=2, broker_gap=(0, 0), broker_down=(0, 0),
                                                             heal_timeout=0.2))
    loop.run()
    assert isinstance(loop.error, TimeoutError)
    assert loop.stop.is_set() and not cluster.down
    assert [e for e, _ in cluster.events] == ["kill", "start"]


def test_instance_loop_kills_restarts_and_waits_for_each_instance() -> None:
    stack = FakeStack()
    inj = injector(stack)
    targets = ["validation-1", DATABASE, "validation-2"]
    loop = InstanceLoop(inj, targets, random.Random(0), FAST, threading.Event(),
                        lambda n: stack.events.append(("up", n)))
    loop.run()
    assert loop.error is None
    assert stack.events[:3] == [("kill", "validation-1"), ("start", "validation-1"), ("up", "validation-1")]
    assert stack.events[3:5] == [("script", "deploy/postgres/bin/pg-stop"), ("script", "deploy/postgres/bin/pg-start")]
    assert stack.events[5:] == [("kill", "validation-2"), ("start", "validation-2"), ("up", "validation-2")]
    assert kill_counts(inj.records) == {"broker kills": 0, "instance kills": 2, "postgres restarts": 1}


def test_both_schedules_run_together_and_stop_together() -> None:
    cluster, stack = FakeCluster(), FakeStack()
    stop = threading.Event()
    brokers = broker_loop(cluster, broker_plan(random.Random(3), 4))
    brokers.stop = stop
    inj = brokers.injector
    inj.stack = stack
    instances = InstanceLoop(inj, instance_plan(random.Random(3), 5, stack.names, 1), random.Random(3), FAST, stop,
                             lambda n: None)
    faults = ClusterFaults(brokers, instances)
    faults.start()
    faults.join(timeout=30)
    assert not faults.is_alive() and faults.error is None
    assert kill_counts(inj.records) == {"broker kills": 4, "instance kills": 5, "postgres restarts": 1}


def test_longest_stall_skips_mails_supervisor_warnings_and_the_sign_off() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)

    def at(seconds: float) -> datetime:
        return t + timedelta(seconds=seconds)

    events = [("a", "offer.publish_requested", at(0)), ("a", "validation.started", at(5)),
              ("a", "offer.step_overdue", at(30)), ("a", "notification.sent", at(35)),
              ("a", "validation.passed", at(45)), ("a", "offer.preview_ready", at(50)),
              ("a", "offer.golive_requested", at(500)), ("a", "offer.went_live", at(510)),
              ("b", "offer.publish_requested", at(0)), ("b", "validation.started", at(20))]
    stall = longest_stall(events)
    assert stall is not None
    assert (stall.offer_id, stall.seconds, stall.after, stall.before) == ("a", 40, "validation.started",
                                                                          "validation.passed")
    assert longest_stall([("a", "offer.publish_requested", at(0))]) is None
