"""A real worker (validation) serves /healthz, /readyz and /metrics, with its consumer lag, on its web port."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.children import free_port, spawned

pytestmark = pytest.mark.integration
BOOTSTRAP = os.environ.get("OFFERFLOW_KAFKA_BOOTSTRAP")


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[str]:
    if not BOOTSTRAP:
        pytest.skip("needs the broker of `make test` (OFFERFLOW_KAFKA_BOOTSTRAP)")
    port = free_port()
    env = {**os.environ, "OFFERFLOW_VALIDATION_WEB_PORT": str(port), "PYTHONUNBUFFERED": "1"}
    with spawned([str(Path(sys.executable).parent / "offerflow-validation")], tmp_path / "validation.log", env=env,
                 cwd=tmp_path):
        yield f"http://127.0.0.1:{port}"


def poll(url: str, done: str, timeout: float) -> httpx.Response:
    deadline = time.monotonic() + timeout
    last: httpx.Response | None = None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(url, timeout=5)
            if last.status_code == 200 and done in last.text:
                return last
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} never showed {done!r}: {last and last.text[:2000]}")


def test_a_worker_serves_health_readiness_and_metrics_with_lag(worker: str) -> None:
    assert poll(f"{worker}/healthz", "ok", 60).json() == {"status": "ok"}
    ready = poll(f"{worker}/readyz", "ready", 30)
    assert ready.json()["checks"] == ["broker"]
    scrape = poll(f"{worker}/metrics", 'offerflow_consumer_lag{group="offerflow-validation",partition="0"', 60)
    assert scrape.headers["content-type"].startswith("text/plain")
    assert "# TYPE offerflow_handler_seconds histogram" in scrape.text
    assert 'topic="offerflow.publishing"' in scrape.text
