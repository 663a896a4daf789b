"""The API serves Prometheus metrics at /metrics (no database needed to scrape)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from offerflow_status_api.api.app import create_app
from tests.api.servers import no_resources


def test_metrics_route_serves_the_exposition_format() -> None:
    with TestClient(create_app(no_resources)) as client:
        r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert "# TYPE offerflow_step_seconds histogram" in r.text
