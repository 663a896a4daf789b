from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from offerflow_contract.events import Replica
from offerflow_shared.errors import Transient
from offerflow_shared.regionmap import RegionEndpoint, RegionMap
from offerflow_staging.adapters.replicas import ReplicaProblem, S3Replicas, object_key
from offerflow_staging.settings import Settings

EAST = RegionEndpoint(name="eastus", endpoint_url="https://127.0.0.1:41001", bucket="offerflow-eastus")
DATA = b"\x00" * 510 + b"\x55\xaa" + b"rest of the disk" * 1000
SHA = hashlib.sha256(DATA).hexdigest()


def replica(location: str | None = None, sha: str = SHA) -> Replica:
    return Replica(region="eastus", plan_id="gold", image_version="1.0.0", disk="os",
                   location=location or f"{EAST.shown}/content/sha256/{SHA}", sha256=sha)


class FakeS3:
    def __init__(self, objects: dict[str, bytes], errors: list[str] | None = None) -> None:
        self.objects, self.errors, self.calls = objects, list(errors or []), []

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        self.calls.append((Bucket, Key))
        if self.errors:
            code = self.errors.pop(0)
            raise ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "GetObject")
        if Key not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey"}, "ResponseMetadata": {"HTTPStatusCode": 404}},
                              "GetObject")
        return {"ContentLength": len(self.objects[Key]), "Body": io.BytesIO(self.objects[Key])}


def source(tmp_path: Path, client: FakeS3, max_bytes: int = 1 << 30) -> S3Replicas:
    return S3Replicas(RegionMap(regions=[EAST]), tmp_path, max_bytes=max_bytes, retry_delay=0.0,
                      client_factory=lambda endpoint, timeout: client)


def test_the_key_is_the_location_under_the_regions_endpoint_and_bucket() -> None:
    assert object_key(EAST, replica()) == f"content/sha256/{SHA}"
    for elsewhere in (f"https://127.0.0.1:41002/offerflow-eastus/content/sha256/{SHA}",
                      f"{EAST.shown}-other/content/{SHA}", f"{EAST.shown}/content/../../x", f"{EAST.shown}/"):
        with pytest.raises(ReplicaProblem) as caught:
            object_key(EAST, replica(elsewhere))
        assert caught.value.code == "replica-location"


async def test_downloads_verifies_and_deletes_after_use(tmp_path: Path) -> None:
    client = FakeS3({f"content/sha256/{SHA}": DATA})
    async with source(tmp_path, client).fetch(replica()) as path:
        assert path.parent == tmp_path and path.read_bytes() == DATA
    assert client.calls == [("offerflow-eastus", f"content/sha256/{SHA}")]
    assert not path.exists()


@pytest.mark.parametrize(("objects", "max_bytes", "code"), [
    ({f"content/sha256/{SHA}": DATA[:-1] + b"!"}, 1 << 30, "replica-mismatch"),
    ({f"content/sha256/{SHA}": DATA}, len(DATA) - 1, "replica-too-large"),
    ({}, 1 << 30, "replica-missing"),
])
async def test_refuses_what_is_not_the_certified_replica(tmp_path: Path, objects: dict[str, bytes], max_bytes: int,
                                                        code: str) -> None:
    with pytest.raises(ReplicaProblem) as caught:
        async with source(tmp_path, FakeS3(objects), max_bytes).fetch(replica()):
            pytest.fail("a refused replica is never handed out")
    assert caught.value.code == code
    assert not os.listdir(tmp_path)  # nothing left behind


async def test_retries_a_busy_store_then_gives_up_as_transient(tmp_path: Path) -> None:
    client = FakeS3({f"content/sha256/{SHA}": DATA}, errors=["SlowDown"])
    async with source(tmp_path, client).fetch(replica()) as path:
        assert path.read_bytes() == DATA
    with pytest.raises(Transient):
        async with source(tmp_path, FakeS3({}, errors=["SlowDown"] * 3)).fetch(replica()):
            pass


def test_settings_need_the_region_map_and_refuse_an_unenforced_check_in_production(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    regions = tmp_path / "regions.json"
    regions.write_text(json.dumps({"regions": [{"name": "eastus", "endpoint_url": "https://s3.example",
                                                "bucket": "offerflow-eastus"}]}))
    for name in [n for n in os.environ if n.startswith("OFFERFLOW_")]:
        monkeypatch.delenv(name)  # the test stack sets some (ENFORCE, the file root production refuses)
    with pytest.raises(ValueError, match="REGION_MAP_FILE is required"):
        Settings()
    monkeypatch.setenv("OFFERFLOW_STAGING_REGION_MAP_FILE", str(regions))
    assert Settings().enforce is True and Settings().regions.names == ["eastus"]
    monkeypatch.setenv("OFFERFLOW_STAGING_ENFORCE", "false")
    assert Settings().enforce is False  # development: allowed
    monkeypatch.setenv("OFFERFLOW_ENVIRONMENT", "production")
    with pytest.raises(ValueError, match="OFFERFLOW_STAGING_ENFORCE=false"):
        Settings()
    monkeypatch.setenv("OFFERFLOW_ALLOW_UNSAFE", "OFFERFLOW_STAGING_ENFORCE")
    assert Settings().enforce is False
    monkeypatch.setenv("OFFERFLOW_STAGING_QEMU_BINARY", "no-such-qemu-binary")
    with pytest.raises(ValueError, match="not installed"):
        Settings()
