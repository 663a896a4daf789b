from __future__ import annotations

import errno
from pathlib import Path
from types import ModuleType
from typing import Any

from offerflow_contract.events import (
    ProvisioningFailed,
    ProvisioningPassed,
    ProvisioningProgressed,
    ProvisioningStarted,
)
from offerflow_provisioning.adapters.regions import LocalRegionStore, MemoryRegionStore
from offerflow_provisioning.adapters.sources import FileDiskSource, MemoryDiskSource, SchemeRouter
from offerflow_provisioning.replicator import Replicator

MIB = 1024 * 1024


def memory_setup(kit: ModuleType, make_dispatcher: Any, **kw: Any) -> tuple[Any, ...]:
    os_data, _ = kit.random_disk()
    lun_data, _ = kit.random_disk(2 * MIB)
    source = MemoryDiskSource({"file:///img/os.vhd": os_data, "file:///img/lun0.vhd": lun_data})
    store = MemoryRegionStore()
    replicator = Replicator(source, store, chunk_size=MIB, parallel=3, retry_delay=0, **kw)
    dispatcher, sink = make_dispatcher(replicator)
    disks = [
        kit.certified("file:///img/os.vhd", os_data),
        kit.certified("file:///img/lun0.vhd", lun_data, disk="lun0"),
    ]
    return dispatcher, sink, source, store, kit.passed_envelope(disks)


async def test_happy_path_replicates_every_disk_to_every_region(
    kit: ModuleType, make_dispatcher: Any
) -> None:
    dispatcher, sink, _, store, env = memory_setup(kit, make_dispatcher)
    await dispatcher.process(kit.incoming(env))

    events = sink.events("offerflow.provisioning")
    assert isinstance(events[0], ProvisioningStarted)
    assert "2 disk(s) to 3 region(s)" in events[0].message
    progress = [e for e in events if isinstance(e, ProvisioningProgressed)]
    assert [p.percentage for p in progress] == [16, 33, 50, 66, 83, 100]
    assert progress[1].message.startswith("eastus: lun0 disk of plan gold version 1.0.0")
    assert progress[1].message.endswith("1/3 regions done")
    assert progress[-1].message.endswith("3/3 regions done")
    passed = events[-1]
    assert isinstance(passed, ProvisioningPassed)
    assert passed.offer.offer_version == 3
    assert {(r.region, r.disk) for r in passed.replicas} == {
        (region, d) for region in kit.REGIONS for d in ("os", "lun0")
    }
    assert len(store.commits) == 6
    for key, data in store.replicas.items():
        assert store.markers[key] == next(d.sha256 for d in passed.disks if d.disk == key.disk)
        assert len(data) == next(d.size_bytes for d in passed.disks if d.disk == key.disk)


async def test_same_event_twice_copies_nothing_again_and_emits_identical_events(
    kit: ModuleType, make_dispatcher: Any
) -> None:
    dispatcher, sink, source, store, env = memory_setup(kit, make_dispatcher)
    await dispatcher.process(kit.incoming(env))
    first = [(e.event_id, e.event_type, e.payload) for e in sink.envelopes()]
    opened = len(source.opened)
    sink.records.clear()

    await dispatcher.process(kit.incoming(env))
    second = [(e.event_id, e.event_type, e.payload) for e in sink.envelopes()]
    assert second == first
    assert len(store.commits) == 6
    assert len(source.opened) == opened


async def test_progress_ids_are_stable_per_region_and_disk(kit: ModuleType, make_dispatcher: Any) -> None:
    dispatcher, sink, _, _, env = memory_setup(kit, make_dispatcher)
    await dispatcher.process(kit.incoming(env))
    ids = [e.event_id for e in sink.envelopes() if e.event_type == "provisioning.progressed"]
    assert len(set(ids)) == len(ids) == 6


async def test_checksum_mismatch_fails_for_good_naming_disk_and_region(
    kit: ModuleType, make_dispatcher: Any
) -> None:
    dispatcher, sink, source, store, env = memory_setup(kit, make_dispatcher)
    source.disks["file:///img/os.vhd"] = b"swapped" + source.disks["file:///img/os.vhd"][7:]
    await dispatcher.process(kit.incoming(env))

    failed = sink.events()[-1]
    assert isinstance(failed, ProvisioningFailed)
    assert failed.notification_emails == ["ops@contoso.example"]
    assert [r.code for r in failed.reasons] == ["disk-changed"]
    message = failed.reasons[0].message
    assert "os disk of plan gold version 1.0.0" in message
    assert message.split(":")[0] in kit.REGIONS
    assert "changed since certification" in failed.summary
    assert all(k.disk != "os" for k in store.commits)
    assert dispatcher.dead_lettered == 0


async def test_unsupported_url_scheme_is_a_clear_permanent_failure(
    kit: ModuleType, make_dispatcher: Any
) -> None:
    data, _ = kit.random_disk(MIB)
    replicator = Replicator(SchemeRouter({"file": FileDiskSource()}), MemoryRegionStore(), retry_delay=0)
    dispatcher, sink = make_dispatcher(replicator)
    env = kit.passed_envelope([kit.certified("https://blob.example/c/os.vhd?sig=SECRET", data)])
    await dispatcher.process(kit.incoming(env))

    failed = sink.events()[-1]
    assert isinstance(failed, ProvisioningFailed)
    assert [r.code for r in failed.reasons] == ["unsupported-url-scheme"]
    assert "https:// is not supported" in failed.reasons[0].message
    assert "SECRET" not in failed.reasons[0].message


async def test_missing_source_file_fails_as_unreadable(
    tmp_path: Path, kit: ModuleType, make_dispatcher: Any
) -> None:
    data, _ = kit.random_disk(MIB)
    replicator = Replicator(
        SchemeRouter({"file": FileDiskSource()}), LocalRegionStore(tmp_path), retry_delay=0
    )
    dispatcher, sink = make_dispatcher(replicator)
    await dispatcher.process(
        kit.incoming(kit.passed_envelope([kit.certified((tmp_path / "gone.vhd").as_uri(), data)]))
    )
    failed = sink.events()[-1]
    assert isinstance(failed, ProvisioningFailed)
    assert failed.reasons[0].code == "disk-unreadable"


async def test_transient_errors_are_retried(kit: ModuleType, make_dispatcher: Any) -> None:
    dispatcher, sink, _, store, env = memory_setup(kit, make_dispatcher, attempts=3)
    store.fail_next["westeurope"] = [OSError(errno.EAGAIN, "try again"), OSError(errno.ENOSPC, "no space")]
    await dispatcher.process(kit.incoming(env))
    assert isinstance(sink.events()[-1], ProvisioningPassed)
    assert len(store.commits) == 6


async def test_transient_errors_that_persist_fail_the_step_naming_the_region(
    kit: ModuleType, make_dispatcher: Any
) -> None:
    dispatcher, sink, _, store, env = memory_setup(kit, make_dispatcher, attempts=2)
    store.fail_next["japaneast"] = [OSError(errno.EIO, "i/o error")] * 10
    await dispatcher.process(kit.incoming(env))
    failed = sink.events()[-1]
    assert isinstance(failed, ProvisioningFailed)
    assert failed.reasons[0].code == "region-unavailable"
    assert failed.reasons[0].message.startswith("japaneast: ")


async def test_permanent_os_errors_are_not_retried(kit: ModuleType, make_dispatcher: Any) -> None:
    dispatcher, sink, _, store, env = memory_setup(kit, make_dispatcher, attempts=5)
    store.fail_next["eastus"] = [OSError(errno.EACCES, "permission denied")]
    await dispatcher.process(kit.incoming(env))
    failed = sink.events()[-1]
    assert isinstance(failed, ProvisioningFailed)
    assert failed.reasons[0].code == "replication-failed"
    assert "permission denied" in failed.reasons[0].message


async def test_unsafe_ids_never_become_paths(kit: ModuleType, make_dispatcher: Any) -> None:
    data, _ = kit.random_disk(MIB)
    replicator = Replicator(MemoryDiskSource({"file:///x": data}), MemoryRegionStore(), retry_delay=0)
    dispatcher, sink = make_dispatcher(replicator)
    await dispatcher.process(
        kit.incoming(kit.passed_envelope([kit.certified("file:///x", data, plan="../../etc")]))
    )
    failed = sink.events()[-1]
    assert isinstance(failed, ProvisioningFailed)
    assert failed.reasons[0].code == "invalid-name"
