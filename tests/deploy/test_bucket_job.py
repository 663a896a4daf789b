"""deploy/compose/create_buckets.py, compose's `buckets-init`: offline for its failures, and for real on the
object stores of `with-infra` (VersityGW, the server compose runs) for creating buckets once and only once."""

from __future__ import annotations

import json
import socket
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from tests import objectstores

from .workspace import DEPLOY

sys.path.insert(0, str(DEPLOY / "compose"))
import create_buckets


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_map(path: Path, regions: Sequence[Mapping[str, object]]) -> Path:
    path.write_text(json.dumps({"regions": regions}))
    return path


def test_no_map_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OFFERFLOW_PROVISIONING_REGION_MAP_FILE", raising=False)
    with pytest.raises(SystemExit) as info:
        create_buckets.main([])
    assert info.value.code == 2


def test_an_invalid_map_fails_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_map(tmp_path / "regions.json", [{"name": "eastus", "bucket": "Not_A_Bucket"}])
    assert create_buckets.run(bad) == 1
    assert f"region map {bad}: regions/0/bucket" in capsys.readouterr().err


def test_an_endpoint_that_stays_down_fails_naming_its_region(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    down = {"name": "eastus", "endpoint_url": f"http://127.0.0.1:{closed_port()}", "bucket": "offerflow-eastus",
            "signing_region": "eastus", "access_key_id": "AK", "secret_access_key": "never-printed"}
    assert create_buckets.run(write_map(tmp_path / "regions.json", [down]), attempts=2, delay=0, timeout=1) == 1
    err = capsys.readouterr().err
    assert "eastus: http://127.0.0.1:" in err and "buckets missing in: eastus" in err
    assert "never-printed" not in err


@pytest.mark.integration
def test_creates_missing_buckets_once_on_the_real_servers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stores = objectstores.load()  # skips outside with-infra
    suffix = uuid.uuid4().hex[:8]
    regions = [
        {"name": s.name, "endpoint_url": s.endpoint_url, "bucket": f"bucket-job-{suffix}-{s.name}"[:63],
         "signing_region": s.signing_region, "access_key_id": s.access_key_id,
         "secret_access_key": s.secret_access_key, "ca_file": s.ca_file or stores.ca_file}
        for s in stores.regions[:3]
    ]
    path = write_map(tmp_path / "regions.json", regions)
    try:
        assert create_buckets.run(path, attempts=1) == 0
        first = capsys.readouterr().out.splitlines()
        assert create_buckets.run(path, attempts=1) == 0
        second = capsys.readouterr().out.splitlines()
        assert [line.rsplit(" ", 1)[1] for line in first] == ["created"] * 3
        assert [line.rsplit(" ", 1)[1] for line in second] == ["exists"] * 3
        for store, region in zip(stores.regions, regions, strict=False):
            names = {b["Name"] for b in objectstores.client(store).list_buckets()["Buckets"]}
            assert region["bucket"] in names, store.name
    finally:
        for store, region in zip(stores.regions, regions, strict=False):
            objectstores.client(store).delete_bucket(Bucket=region["bucket"])
