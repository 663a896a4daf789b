"""The fan-out replicator against real S3 servers: one VersityGW process per region (deploy/dev/objectstore.py).

Faults are real too: a region's server is killed mid-copy (it retries alone, then either succeeds when the server
is back or fails the step naming the region), a region answers a wrong checksum (the copy is refused and the object
deleted), and no unfinished multipart upload is left behind in any case.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import ssl
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO

import aiohttp
import pytest
from aiohttp import web

from offerflow_contract.events import ProvisioningFailed, ProvisioningPassed
from offerflow_provisioning.adapters.regions import Content
from offerflow_provisioning.adapters.s3 import S3RegionStore
from offerflow_provisioning.replicator import Replicator
from offerflow_shared.regionmap import RegionEndpoint
from offerflow_shared.sources import MemoryDiskSource

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "deploy/dev"))
from objectstore import ObjectStores, installed

pytestmark = pytest.mark.integration
MIB = 1024 * 1024
REGIONS = ("eastus", "westeurope", "japaneast")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStores]:
    if not installed():
        pytest.skip("VersityGW is not installed (scripts/install)")
    stores = ObjectStores(tmp_path_factory.mktemp("regions"), REGIONS)
    stores.start()
    try:
        yield stores
    finally:
        stores.stop()


def endpoint(servers: ObjectStores, name: str, url: str | None = None) -> RegionEndpoint:
    entry = servers.endpoints[name].entry(servers.tls.ca_file)
    return RegionEndpoint.model_validate({**entry, **({"endpoint_url": url} if url else {})})


def s3_stores(servers: ObjectStores, **urls: str) -> dict[str, S3RegionStore]:
    return {n: S3RegionStore(endpoint(servers, n, urls.get(n)), timeout=3) for n in REGIONS}


def open_uploads(servers: ObjectStores) -> list[str]:
    found = []
    for n in REGIONS:
        e = servers.endpoints[n]
        listing = servers.client(n).list_multipart_uploads(Bucket=e.bucket)
        found += [f"{n}/{u['Key']}" for u in listing.get("Uploads", [])]
    return found


class _OnPart:
    """A source that runs ``action`` once, when the replicator asks for part ``part`` (between two parts)."""

    def __init__(self, inner: MemoryDiskSource, part: int, part_size: int, action: Any) -> None:
        self.inner, self.part, self.part_size, self.action = inner, part, part_size, action

    def open(self, url: str, publisher: str | None = None) -> BinaryIO:
        stream = self.inner.open(url, publisher)
        outer = self

        class Hooked:
            offset = 0

            def read(self, n: int = -1) -> bytes:
                if outer.action and self.offset >= outer.part_size * (outer.part - 1):
                    act, outer.action = outer.action, None
                    act()
                data = stream.read(n)
                self.offset += len(data)
                return data

            def close(self) -> None:
                stream.close()

        return Hooked()  # type: ignore[return-value]


def setup(kit: ModuleType, make_dispatcher: Any, stores: dict[str, Any], source: Any = None,
          attempts: int = 3, size: int = 12 * MIB + 5) -> tuple[Any, ...]:
    data, _ = kit.random_disk(size)
    memory = MemoryDiskSource({"file:///img/os.vhd": data})
    replicator = Replicator(source(memory) if source else memory, stores, part_size=5 * MIB, attempts=attempts,
                            retry_delay=1.0)
    dispatcher, sink = make_dispatcher(replicator, REGIONS)
    env = kit.passed_envelope([kit.certified("file:///img/os.vhd", data)])
    return dispatcher, sink, env, replicator, data


async def test_one_read_fans_out_to_every_region_and_is_verified(
        servers: ObjectStores, kit: ModuleType, make_dispatcher: Any) -> None:
    dispatcher, sink, env, replicator, data = setup(kit, make_dispatcher, s3_stores(servers))
    await dispatcher.process(kit.incoming(env))
    passed = sink.events()[-1]
    assert isinstance(passed, ProvisioningPassed), sink.events()[-1]
    assert replicator.bytes_read == len(data)
    for replica in passed.replicas:
        e = servers.endpoints[replica.region]
        assert replica.location == f"{e.endpoint_url}/{e.bucket}/content/sha256/{replica.sha256}"
        body = servers.client(replica.region).get_object(Bucket=e.bucket, Key=f"content/sha256/{replica.sha256}")
        assert body["Body"].read() == data
    assert open_uploads(servers) == []
    # Published again (a new version of the same image): referenced, not copied, nothing read.
    bumped = kit.passed_envelope([d.model_copy(update={"image_version": "2.0.0"}) for d in passed.disks])
    await dispatcher.process(kit.incoming(bumped))
    assert isinstance(sink.events()[-1], ProvisioningPassed)
    assert replicator.bytes_read == len(data)


async def test_a_region_killed_mid_copy_retries_alone_and_leaves_no_parts(
        servers: ObjectStores, kit: ModuleType, make_dispatcher: Any) -> None:
    loop = asyncio.get_running_loop()

    def crash() -> None:
        servers.stop_endpoint("westeurope", signal.SIGKILL)
        loop.call_soon_threadsafe(loop.call_later, 1.5, servers.start_endpoint, "westeurope")

    dispatcher, sink, env, replicator, data = setup(
        kit, make_dispatcher, s3_stores(servers), lambda m: _OnPart(m, 2, 5 * MIB, crash), attempts=4)
    await dispatcher.process(kit.incoming(env))
    assert isinstance(sink.events()[-1], ProvisioningPassed), sink.events()[-1]
    assert replicator.bytes_read == 2 * len(data)  # the fan-out once, then westeurope alone
    assert servers.running("westeurope")
    assert open_uploads(servers) == []


async def test_a_region_that_stays_down_fails_the_step_naming_it(
        servers: ObjectStores, kit: ModuleType, make_dispatcher: Any) -> None:
    dispatcher, sink, env, _, _ = setup(
        kit, make_dispatcher, s3_stores(servers),
        lambda m: _OnPart(m, 2, 5 * MIB, lambda: servers.stop_endpoint("japaneast", signal.SIGKILL)), attempts=2)
    try:
        await dispatcher.process(kit.incoming(env))
    finally:
        servers.start_endpoint("japaneast")
    failed = sink.events()[-1]
    assert isinstance(failed, ProvisioningFailed)
    assert [r.code for r in failed.reasons] == ["region-unavailable"]
    assert failed.reasons[0].message.startswith("japaneast: ")
    # The parts it took before dying are aborted by the next copy of that content (redelivery or republish).
    content = Content(env.event().disks[0].sha256, env.event().disks[0].size_bytes)  # type: ignore[attr-defined]
    S3RegionStore(endpoint(servers, "japaneast")).abort_leftovers(content.key)
    assert open_uploads(servers) == []


@pytest.fixture
async def lying_proxy(servers: ObjectStores) -> AsyncIterator[str]:
    """Plain HTTP in front of eastus that rewrites the checksum CompleteMultipartUpload answers."""
    backend = servers.endpoints["eastus"].endpoint_url
    tls = ssl.create_default_context(cafile=str(servers.tls.ca_file))
    session = aiohttp.ClientSession()

    async def forward(request: web.Request) -> web.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("transfer-encoding", "connection")}
        async with session.request(request.method, backend + request.path_qs, headers=headers,
                                   data=await request.read(), ssl=tls, auto_decompress=False) as answer:
            body = await answer.read()
            if request.method == "POST" and "uploadId" in request.query:
                body = re.sub(rb"<ChecksumSHA256>[^<-]+", b"<ChecksumSHA256>" + b"A" * 43 + b"=", body)
            kept = {k: v for k, v in answer.headers.items()
                    if k.lower() not in ("content-length", "transfer-encoding", "connection")}
            return web.Response(status=answer.status, body=body, headers=kept)

    app = web.Application(client_max_size=64 * MIB)
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        await session.close()


async def test_a_region_answering_a_wrong_checksum_is_refused(
        servers: ObjectStores, lying_proxy: str, kit: ModuleType, make_dispatcher: Any) -> None:
    dispatcher, sink, env, _, _ = setup(kit, make_dispatcher, s3_stores(servers, eastus=lying_proxy), attempts=2)
    await dispatcher.process(kit.incoming(env))
    failed = sink.events()[-1]
    assert isinstance(failed, ProvisioningFailed)
    assert failed.reasons[0].message.startswith("eastus: ") and "refused" in failed.reasons[0].message
    sha = env.event().disks[0].sha256  # type: ignore[attr-defined]
    head = servers.client("eastus").list_objects_v2(Bucket=servers.endpoints["eastus"].bucket,
                                                    Prefix=f"content/sha256/{sha}")
    assert head.get("KeyCount", 0) == 0  # the refused object was deleted
    assert open_uploads(servers) == []
    assert os.environ.get("OFFERFLOW_ENVIRONMENT") != "production"
