"""The dev stack's object stores (deploy/dev/objectstore.py) on the real VersityGW: files, crash, restart, stop."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from tests import objectstores

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy/dev"))

from objectstore import PUBLISHER, ObjectStores, installed  # noqa: E402
from procs import alive, port_open  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStores]:
    """A private set (two regions and the publisher's endpoint), so the test may kill and stop them all."""
    if not installed():
        pytest.skip("VersityGW is not installed: run scripts/install")
    s = ObjectStores(tmp_path_factory.mktemp("stores"), regions=("eastus", "westeurope"))
    s.start()
    try:
        yield s
    finally:
        s.stop()


def _put(store: objectstores.Store, key: str, data: bytes) -> None:
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    objectstores.client(store).put_object(Bucket=store.bucket, Key=key, Body=data, ChecksumSHA256=digest)


def _get(store: objectstores.Store, key: str) -> bytes:
    return bytes(objectstores.client(store).get_object(Bucket=store.bucket, Key=key)["Body"].read())


def test_files_follow_the_agreed_interface(stores: ObjectStores) -> None:
    from offerflow_shared.regionmap import load as load_region_map

    conf = objectstores.load(stores.config_file)
    assert [r.name for r in conf.regions] == ["eastus", "westeurope"]
    assert [r.signing_region for r in conf.regions] == ["eastus", "westeurope"]
    assert conf.publisher.bucket == "publisher" and Path(conf.ca_file) == stores.run_dir / "tls" / "ca.pem"
    assert len({r.endpoint_url for r in [*conf.regions, conf.publisher]}) == 3
    assert len({r.access_key_id for r in [*conf.regions, conf.publisher]}) == 3  # each its own credentials
    region_map = load_region_map(stores.region_map_file)  # what provisioning reads, validated by its own model
    assert region_map.names == ["eastus", "westeurope"]
    assert all(r.endpoint_url and r.endpoint_url.startswith("https://127.0.0.1:") for r in region_map.regions)
    shown = json.dumps(stores.public())
    assert all(r.secret_access_key not in shown and r.access_key_id not in shown for r in conf.regions)
    assert oct(stores.config_file.stat().st_mode & 0o777) == "0o600"


def test_each_endpoint_serves_only_its_own_region(stores: ObjectStores) -> None:
    conf = objectstores.load(stores.config_file)
    eastus, westeurope = conf.regions
    _put(eastus, "probe/only-here", b"eastus")
    assert _get(eastus, "probe/only-here") == b"eastus"
    assert objectstores.keys(westeurope, "probe/") == {}
    # Another region's credentials are refused (VersityGW does not check the signing region itself, so the
    # credentials are what keeps a region's client on its own endpoint).
    crossed = objectstores.Store(**{**eastus.__dict__, "access_key_id": westeurope.access_key_id,
                                    "secret_access_key": westeurope.secret_access_key})
    with pytest.raises(ClientError):
        objectstores.client(crossed).list_objects_v2(Bucket=eastus.bucket)


def test_an_endpoint_killed_with_sigkill_comes_back_with_its_data(stores: ObjectStores) -> None:
    conf = objectstores.load(stores.config_file)
    westeurope = conf.region("westeurope")
    data = os.urandom(3 * 1024 * 1024 + 17)
    _put(westeurope, "crash/disk.vhd", data)
    port, pid = stores.endpoints["westeurope"].port, stores.pids()["westeurope"]

    stores.stop_endpoint("westeurope", signal.SIGKILL)
    assert not stores.running("westeurope") and not alive(pid) and not port_open(port)
    assert _get(conf.region("eastus"), "probe/only-here") == b"eastus"  # the others keep serving

    stores.start_endpoint("westeurope")
    assert stores.endpoints["westeurope"].port == port and stores.running("westeurope")
    assert hashlib.sha256(_get(westeurope, "crash/disk.vhd")).digest() == hashlib.sha256(data).digest()


def test_stop_leaves_no_process(tmp_path: Path) -> None:
    if not installed():
        pytest.skip("VersityGW is not installed: run scripts/install")
    s = ObjectStores(tmp_path, regions=("japaneast",))
    s.start()
    pids, ports = s.pids(), [e.port for e in s.endpoints.values()]
    assert set(pids) == {"japaneast", PUBLISHER}
    # Stopped from a second runner, as `infra-down` does: it finds the processes through their pid files.
    ObjectStores.attach(s.config_file).stop()
    assert not any(alive(p, s.procs.get(n)) for n, p in pids.items())
    assert not any(port_open(p) for p in ports)
    s.stop()  # the first runner reaps its children; nothing left to stop
    assert not any(Path(f"/proc/{p}").exists() for p in pids.values())


def test_a_region_of_the_running_infrastructure_restarts_from_another_process() -> None:
    """What the fault tests do: stop one region of with-infra's stores mid-copy, then start it again."""
    path = objectstores.config_file()
    if path is None:
        pytest.skip("needs the object stores of deploy/dev/stack.py with-infra (OFFERFLOW_OBJECTSTORES_FILE)")
    conf, shared = objectstores.load(path), ObjectStores.attach(path)
    last = conf.regions[-1]
    _put(last, "restart-probe/object", b"kept")
    try:
        shared.stop_endpoint(last.name)
        assert not shared.running(last.name)
        with pytest.raises(EndpointConnectionError):
            objectstores.client(last).head_bucket(Bucket=last.bucket)
    finally:
        shared.start_endpoint(last.name)
    assert _get(last, "restart-probe/object") == b"kept"
    objectstores.client(last).delete_object(Bucket=last.bucket, Key="restart-probe/object")
