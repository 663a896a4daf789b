from __future__ import annotations

import io
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO

from offerflow_contract.events import ProvisioningPassed
from offerflow_provisioning.adapters.regions import LocalRegionStore
from offerflow_provisioning.adapters.sources import FileDiskSource, SchemeRouter
from offerflow_provisioning.replicator import Replicator

MIB = 1024 * 1024


class CountingSource:
    """Records every read so tests can see copies are streamed and skipped when verified."""

    def __init__(self) -> None:
        self.inner = SchemeRouter({"file": FileDiskSource()})
        self.opened = 0
        self.largest_read = 0

    def open(self, url: str) -> BinaryIO:
        self.opened += 1
        stream = self.inner.open(url)
        outer = self

        class Reader(io.RawIOBase):
            def readinto(self, b: Any) -> int:
                raise NotImplementedError

            def read(self, size: int = -1) -> bytes:
                assert size > 0, "a disk must never be read whole"
                outer.largest_read = max(outer.largest_read, size)
                return stream.read(size)

            def close(self) -> None:
                stream.close()
                super().close()

        return Reader()  # type: ignore[return-value]


def write_disk(tmp_path: Path, kit: ModuleType, name: str, size: int) -> tuple[Path, bytes]:
    data, _ = kit.random_disk(size)
    path = tmp_path / "src" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path, data


async def test_local_layout_markers_and_no_recopy(
    tmp_path: Path, kit: ModuleType, make_dispatcher: Any
) -> None:
    src, data = write_disk(tmp_path, kit, "os.vhd", 5 * MIB + 3)
    root = tmp_path / "regions"
    source = CountingSource()
    replicator = Replicator(source, LocalRegionStore(root), chunk_size=2 * MIB, parallel=2, retry_delay=0)
    dispatcher, sink = make_dispatcher(replicator, ["eastus", "westeurope"])
    env = kit.passed_envelope([kit.certified(src.as_uri(), data)])

    await dispatcher.process(kit.incoming(env))
    passed = sink.events()[-1]
    assert isinstance(passed, ProvisioningPassed)
    replica = root / "westeurope" / "contoso" / "web-server" / "gold" / "1.0.0" / "os.vhd"
    assert replica.read_bytes() == data
    assert (replica.parent / "os.vhd.sha256").read_text().strip() == passed.disks[0].sha256
    assert not list(root.rglob("*.partial"))
    assert {r.location for r in passed.replicas} == {
        (root / r / "contoso" / "web-server" / "gold" / "1.0.0" / "os.vhd").resolve().as_uri()
        for r in ("eastus", "westeurope")
    }
    assert source.opened == 2
    assert source.largest_read == 2 * MIB

    before = replica.stat().st_mtime_ns
    await dispatcher.process(kit.incoming(env))
    assert source.opened == 2
    assert replica.stat().st_mtime_ns == before


async def test_leftover_temp_file_after_a_kill_is_discarded(
    tmp_path: Path, kit: ModuleType, make_dispatcher: Any
) -> None:
    src, data = write_disk(tmp_path, kit, "os.vhd", 2 * MIB)
    root = tmp_path / "regions"
    folder = root / "eastus" / "contoso" / "web-server" / "gold" / "1.0.0"
    folder.mkdir(parents=True)
    (folder / "os.vhd.partial").write_bytes(b"half a copy from a killed worker")
    # A replica without its marker was never verified: it must be copied again, not trusted.
    (folder / "os.vhd").write_bytes(b"unverified")

    replicator = Replicator(CountingSource(), LocalRegionStore(root), chunk_size=MIB, retry_delay=0)
    dispatcher, sink = make_dispatcher(replicator, ["eastus"])
    await dispatcher.process(kit.incoming(kit.passed_envelope([kit.certified(src.as_uri(), data)])))

    assert isinstance(sink.events()[-1], ProvisioningPassed)
    assert (folder / "os.vhd").read_bytes() == data
    assert not (folder / "os.vhd.partial").exists()


async def test_a_marker_for_other_content_is_not_trusted(
    tmp_path: Path, kit: ModuleType, make_dispatcher: Any
) -> None:
    src, data = write_disk(tmp_path, kit, "os.vhd", MIB)
    root = tmp_path / "regions"
    folder = root / "eastus" / "contoso" / "web-server" / "gold" / "1.0.0"
    folder.mkdir(parents=True)
    (folder / "os.vhd").write_bytes(b"older build")
    (folder / "os.vhd.sha256").write_text("0" * 64 + "\n")

    source = CountingSource()
    dispatcher, sink = make_dispatcher(Replicator(source, LocalRegionStore(root), retry_delay=0), ["eastus"])
    await dispatcher.process(kit.incoming(kit.passed_envelope([kit.certified(src.as_uri(), data)])))
    assert isinstance(sink.events()[-1], ProvisioningPassed)
    assert source.opened == 1
    assert (folder / "os.vhd").read_bytes() == data
