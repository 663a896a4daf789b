"""A real worker (validation) serves /healthz, /readyz and /metrics, with its consumer lag, on its web port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration
BOOTSTRAP = os.environ.get("OFFERFLOW_KAFKA_BOOTSTRAP")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[str]:
    if not BOOTSTRAP:
        pytest.skip("needs the broker of `make test` (OFFERFLOW_KAFKA_BOOTSTRAP)")
    port = free_port()
    env = {**os.environ, "OFFERFLOW_VALIDATION_WEB_PORT": str(port), "PYTHONUNBUFFERED": "1"}
    log = open(tmp_path / "validation.log", "wb")  # noqa: SIM115 - owned by the child process
    proc = subprocess.Popen([str(Path(sys.executable).parent / "offerflow-validation")], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


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
