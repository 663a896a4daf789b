"""Offers published while services are killed with -9 and the broker and the database crash and restart.

``chaos_short`` (part of ``make test``): 20 offers, four processes killed (the outbox relay always), one
broker and one PostgreSQL restart. ``chaos`` (``make chaos``, or ``OFFERFLOW_CHAOS=full``): 200 offers and
several rounds of faults. ``chaos`` with ``OFFERFLOW_CHAOS=cluster`` (``make chaos-cluster``, on three KRaft
brokers and two instances of every stage): 200 offers while brokers (the active controller and the busiest
partitions' leader among them) and service instances are killed and PostgreSQL restarts;
``OFFERFLOW_CHAOS_OFFERS`` makes it shorter, with fewer kills. All end with the figures printed and fail on
anything lost, duplicated, missing or dead-lettered.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from stack import Ports, Stack, create_publisher

from tests.chaos.cluster_faults import Cluster, ClusterChaos
from tests.chaos.driver import ChaosConfig, ChaosResult, run_chaos

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def chaos_token(stack: Stack) -> str:
    return str(create_publisher(stack, "chaos"))


def _run(stack: Stack, token: str, tmp_path: Path, cfg: ChaosConfig, cluster: Cluster | None = None) -> ChaosResult:
    if "OFFERFLOW_CHAOS_SEED" in os.environ:
        cfg.seed = int(os.environ["OFFERFLOW_CHAOS_SEED"])
    result = run_chaos(stack, token, tmp_path, cfg, cluster)
    print("\n" + result.report(), flush=True)
    figures = result.findings.figures()
    assert sum(result.faults.values()) > 0
    assert all(n == 0 for n in figures.values()), result.report()
    return result



@pytest.mark.chaos_short
@pytest.mark.timeout(420)
def test_short_chaos_loses_and_duplicates_nothing(stack: Stack, chaos_token: str, tmp_path: Path) -> None:
    _run(stack, chaos_token, tmp_path, ChaosConfig(offers=20, kills=4, broker_restarts=1, postgres_restarts=1,
                                                    gap=(1.0, 3.0), publish_spacing=0.5, timeout=300,
                                                    always_kill=("relay",)))


@pytest.mark.chaos
@pytest.mark.timeout(3600)
@pytest.mark.skipif(os.environ.get("OFFERFLOW_CHAOS") != "full", reason="the full chaos run is `make chaos`")
def test_full_chaos_loses_and_duplicates_nothing(stack: Stack, chaos_token: str, tmp_path: Path) -> None:
    _run(stack, chaos_token, tmp_path, ChaosConfig(offers=200, kills=14, broker_restarts=3, postgres_restarts=3,
                                                    gap=(5.0, 12.0), publish_spacing=1.0, timeout=1800))


@pytest.fixture(scope="module")
def cluster_stack() -> Iterator[Stack]:
    """Two processes of every stage and of the projection, on the three brokers of ``with-infra --cluster``."""
    env = os.environ
    missing = [v for v in ("OFFERFLOW_KAFKA_CLUSTER_FILE", "OFFERFLOW_PG_PORT", "OFFERFLOW_OBJECTSTORES_FILE",
                           "OFFERFLOW_TEST_RUN_DIR") if not env.get(v)]
    if missing:
        raise RuntimeError(f"cluster mode runs under `deploy/dev/stack.py with-infra --cluster DIR`; unset: {missing}")
    ports = Ports.free()
    ports.postgres = int(env["OFFERFLOW_PG_PORT"])
    # Its own folder beside the infrastructure's: logs, mails and the second instances' working folders.
    s = Stack(run_dir=Path(env["OFFERFLOW_TEST_RUN_DIR"]) / "chaos-cluster", ports=ports,
              objectstores_file=Path(env["OFFERFLOW_OBJECTSTORES_FILE"]), instances=2)
    if s.cluster is None:
        raise RuntimeError("the stack did not find the broker cluster (OFFERFLOW_KAFKA_CLUSTER_FILE)")
    try:
        s.start_services(timeout=180)
        yield s
    finally:
        s.stop_services()


@pytest.mark.chaos
@pytest.mark.timeout(5400)
@pytest.mark.skipif(os.environ.get("OFFERFLOW_CHAOS") != "cluster",
                    reason="the cluster chaos run is `make chaos-cluster`")
def test_cluster_chaos_loses_and_duplicates_nothing(cluster_stack: Stack, tmp_path: Path) -> None:
    stack = cluster_stack
    assert stack.cluster is not None and len(stack.instance_names("certification")) == 2
    chaos_token = str(create_publisher(stack, "chaos"))
    offers = int(os.environ.get("OFFERFLOW_CHAOS_OFFERS", "200"))
    cc = ClusterChaos.for_offers(offers)
    result = _run(stack, chaos_token, tmp_path,
                  ChaosConfig(offers=offers, publish_spacing=1.0, timeout=2400, cluster=cc), stack.cluster)
    assert result.kills is not None
    assert result.kills["broker kills"] >= cc.broker_kills, result.report()
    assert result.kills["instance kills"] >= cc.instance_kills, result.report()
    assert result.kills["postgres restarts"] == cc.postgres_restarts, result.report()
    assert result.stall is not None and result.stall.seconds < cc.stall_limit, result.report()
