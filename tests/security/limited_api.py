"""A second status-api process on the stack's database with low quotas and limits, for the probes that must meet
them (the stack's own API has them high enough that no suite does).

Being a second process, it also shows what holds across API processes: a token revoked through one loses its
streams on the other (by the re-check of the token).
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from stack import BIN, ROOT, Stack, free_port

from tests.children import spawned

# Low enough to meet in a few requests; every test uses its own publisher, so each has its own quota and bucket.
LIMITS = {
    "OFFERFLOW_STATUS_API_MAX_OFFERS_PER_PUBLISHER": "3",
    "OFFERFLOW_STATUS_API_MAX_RUNS_PER_HOUR": "2",
    "OFFERFLOW_STATUS_API_WRITE_RATE": "2",
    "OFFERFLOW_STATUS_API_WRITE_BURST": "10",
    "OFFERFLOW_STATUS_API_READ_RATE": "50",
    "OFFERFLOW_STATUS_API_READ_BURST": "200",
    "OFFERFLOW_STATUS_API_WRITES_IN_FLIGHT": "4",
    "OFFERFLOW_STATUS_API_READS_IN_FLIGHT": "8",
    "OFFERFLOW_STATUS_API_MAX_STREAMS_PER_TOKEN": "5",
    "OFFERFLOW_STATUS_API_TOKEN_RECHECK_SECONDS": "1",
}


@dataclass(frozen=True)
class Publisher:
    publisher_id: str
    token_id: str
    token: str


@dataclass(frozen=True)
class LimitedApi:
    url: str
    stack: Stack

    def admin(self, url: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=url or self.stack.api_url, timeout=30,
                            headers={"Authorization": f"Bearer {self.stack.admin_token}"})

    def new_publisher(self, prefix: str) -> Publisher:
        """A fresh publisher and token (admin routes are not rate limited)."""
        publisher = f"{prefix}-{uuid.uuid4().hex[:8]}"
        with self.admin() as admin:
            assert admin.post("/admin/publishers", json={"publisherId": publisher}).status_code == 201
            r = admin.post(f"/admin/publishers/{publisher}/tokens", json={"name": "limits"})
            assert r.status_code == 201, r.text
            body = r.json()
        return Publisher(publisher, body["id"], body["token"])

    def revoke(self, token_id: str, *, via: str | None = None) -> None:
        """Revokes through ``via`` (this process by default, or another API's URL)."""
        with self.admin(via or self.url) as admin:
            r = admin.delete(f"/admin/tokens/{token_id}")
            assert r.status_code == 204, r.text


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as r:
            return bool(json.loads(r.read()).get("status") == "ready")
    except OSError:
        return False


@pytest.fixture(scope="session")
def limited(stack: Stack) -> Iterator[LimitedApi]:
    port = free_port()
    env = {**stack.env(), **LIMITS, "OFFERFLOW_STATUS_API_PORT": str(port),
           "OFFERFLOW_STATUS_API_EMBEDDED_RELAY": "false"}  # the stack's relay puts every outbox on Kafka
    logs = stack.run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    with spawned([str(BIN / "offerflow-status-api")], logs / "status-api-limited.log", env=env, cwd=ROOT,
                 grace=15) as proc:
        deadline = time.monotonic() + 60
        while not _ready(url):
            assert proc.poll() is None, f"the limited API exited; see {logs}/status-api-limited.log"
            assert time.monotonic() < deadline, "the limited API did not get ready"
            time.sleep(0.2)
        yield LimitedApi(url, stack)
