"""The S3 region store against a real local S3 server (moto in server mode, over HTTP on 127.0.0.1)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from offerflow_contract.events import ProvisioningFailed, ProvisioningPassed
from offerflow_provisioning.adapters.s3 import S3RegionStore
from offerflow_provisioning.adapters.sources import FileDiskSource, SchemeRouter
from offerflow_provisioning.replicator import Replicator
from offerflow_provisioning.rules import ReplicaKey

MIB = 1024 * 1024
CREDS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def store(url: str, prefix: str, **kw: Any) -> S3RegionStore:
    return S3RegionStore(endpoint_url=url, bucket_template=prefix + "-{region}", part_size=5 * MIB,
                         access_key_id="testing", secret_access_key="testing", timeout=5, **kw)


def client(url: str) -> Any:
    return boto3.client("s3", endpoint_url=url, **CREDS)


def write_disk(tmp_path: Path, kit: ModuleType, size: int) -> tuple[Path, bytes]:
    data, _ = kit.random_disk(size)
    path = tmp_path / "os.vhd"
    path.write_bytes(data)
    return path, data


async def test_replicates_to_one_bucket_per_region_verified(
    s3_url: str, tmp_path: Path, kit: ModuleType, make_dispatcher: Any
) -> None:
    src, data = write_disk(tmp_path, kit, 11 * MIB + 5)  # three parts, the last one short
    s3 = store(s3_url, "happy")
    replicator = Replicator(SchemeRouter({"file": FileDiskSource()}), s3, chunk_size=4 * MIB, retry_delay=0)
    dispatcher, sink = make_dispatcher(replicator, ["eastus", "westeurope"])
    env = kit.passed_envelope([kit.certified(src.as_uri(), data)])
    await dispatcher.process(kit.incoming(env))

    passed = sink.events()[-1]
    assert isinstance(passed, ProvisioningPassed), sink.events()
    c = client(s3_url)
    sha = hashlib.sha256(data).hexdigest()
    for region in ("eastus", "westeurope"):
        obj = c.get_object(Bucket=f"happy-{region}", Key="contoso/web-server/gold/1.0.0/os.vhd")["Body"].read()
        assert hashlib.sha256(obj).hexdigest() == sha
        marker = c.get_object(Bucket=f"happy-{region}", Key="contoso/web-server/gold/1.0.0/os.vhd.sha256")
        assert marker["Body"].read().decode().strip() == sha
    assert {r.location for r in passed.replicas} == {
        f"s3://happy-{r}/contoso/web-server/gold/1.0.0/os.vhd" for r in ("eastus", "westeurope")}

    # A redelivery copies nothing: the markers say every replica is verified.
    before = c.head_object(Bucket="happy-eastus", Key="contoso/web-server/gold/1.0.0/os.vhd")["LastModified"]
    await dispatcher.process(kit.incoming(env))
    assert isinstance(sink.events()[-1], ProvisioningPassed)
    after = c.head_object(Bucket="happy-eastus", Key="contoso/web-server/gold/1.0.0/os.vhd")["LastModified"]
    assert before == after


def test_an_interrupted_upload_restarts_cleanly_and_small_disks_use_one_put(s3_url: str) -> None:
    s3 = store(s3_url, "resume")
    key = ReplicaKey("eastus", "contoso", "web", "gold", "1.0.0", "os")
    writer = s3.open_writer(key)
    writer.write(b"x" * (6 * MIB))  # one part sent, then the worker "dies": no commit, no discard
    c = client(s3_url)
    assert len(c.list_multipart_uploads(Bucket="resume-eastus").get("Uploads", [])) == 1
    assert s3.verified_sha256(key) is None

    data = b"small disk"
    writer = s3.open_writer(key)  # the restart aborts the leftover upload
    assert c.list_multipart_uploads(Bucket="resume-eastus").get("Uploads", []) == []
    writer.write(data)
    writer.commit(hashlib.sha256(data).hexdigest())
    assert s3.verified_sha256(key) == hashlib.sha256(data).hexdigest()
    assert c.get_object(Bucket="resume-eastus", Key="contoso/web/gold/1.0.0/os.vhd")["Body"].read() == data


async def test_a_missing_bucket_is_a_permanent_failure_naming_the_region(
    s3_url: str, tmp_path: Path, kit: ModuleType, make_dispatcher: Any
) -> None:
    src, data = write_disk(tmp_path, kit, MIB)
    s3 = store(s3_url, "absent", create_buckets=False)
    replicator = Replicator(SchemeRouter({"file": FileDiskSource()}), s3, retry_delay=0)
    dispatcher, sink = make_dispatcher(replicator, ["japaneast"])
    await dispatcher.process(kit.incoming(kit.passed_envelope([kit.certified(src.as_uri(), data)])))
    failed = sink.events()[-1]
    assert isinstance(failed, ProvisioningFailed)
    assert failed.reasons[0].code == "replication-failed"
    assert "japaneast" in failed.summary and "absent-japaneast" in failed.summary


async def test_an_unreachable_store_is_retried_then_fails_naming_the_region(
    tmp_path: Path, kit: ModuleType, make_dispatcher: Any
) -> None:
    src, data = write_disk(tmp_path, kit, MIB)
    s3 = store("http://127.0.0.1:9", "down", verify_readback=False)
    replicator = Replicator(SchemeRouter({"file": FileDiskSource()}), s3, attempts=2, retry_delay=0)
    dispatcher, sink = make_dispatcher(replicator, ["brazilsouth"])
    await dispatcher.process(kit.incoming(kit.passed_envelope([kit.certified(src.as_uri(), data)])))
    failed = sink.events()[-1]
    assert isinstance(failed, ProvisioningFailed)
    assert failed.reasons[0].code == "region-unavailable"
    assert "brazilsouth" in failed.summary and "after 2 attempts" in failed.summary
    assert "unreachable" in failed.summary
