"""The cluster suite runs only on the three-broker cluster of `make test-cluster` (with-infra --cluster)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy/dev"))

from cluster import CLUSTER_FILE_ENV, KafkaCluster


@pytest.fixture(scope="module")
def cluster() -> KafkaCluster:
    if not os.environ.get(CLUSTER_FILE_ENV):
        pytest.fail("needs the three-broker cluster: `make test-cluster` (stack.py with-infra --cluster)")
    c = KafkaCluster.from_env()
    c.wait_healthy(120)
    return c
