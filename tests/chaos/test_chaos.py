"""Offers published while services are killed with -9 and the broker and the database crash and restart.

``chaos_short`` (part of ``make test``): 20 offers, four processes killed (the outbox relay always), one
broker and one PostgreSQL restart. ``chaos`` (``make chaos``, or ``OFFERFLOW_CHAOS=full``): 200 offers and
several rounds of faults. Both end with the figures printed and fail on anything lost, duplicated, missing or
dead-lettered.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from stack import Stack, create_publisher

from tests.chaos.driver import ChaosConfig, run_chaos

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def chaos_token(stack: Stack) -> str:
    return str(create_publisher(stack, "chaos"))


def _run(stack: Stack, token: str, tmp_path: Path, cfg: ChaosConfig) -> None:
    if "OFFERFLOW_CHAOS_SEED" in os.environ:
        cfg.seed = int(os.environ["OFFERFLOW_CHAOS_SEED"])
    result = run_chaos(stack, token, tmp_path, cfg)
    print("\n" + result.report(), flush=True)
    figures = result.findings.figures()
    assert sum(result.faults.values()) > 0
    assert all(n == 0 for n in figures.values()), result.report()


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
