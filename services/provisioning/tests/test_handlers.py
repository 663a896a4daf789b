"""The provisioning handler and the fan-out replicator, on in-memory regions and sources (faults injected)."""

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
from offerflow_provisioning.adapters.memory import MemoryRegionStore
from offerflow_provisioning.replicator import Replicator
from offerflow_shared.egress_policy import EgressPolicy
from offerflow_shared.sources import MemoryDiskSource, UrlDiskSource

MIB = 1024 * 1024
PART = 5 * MIB


def regions(kit: ModuleType) -> dict[str, MemoryRegionStore]:
    return {name: MemoryRegionStore(name) for name in kit.REGIONS}


def memory_setup(kit: ModuleType, make_dispatcher: Any, **kw: Any) -> tuple[Any, ...]:
    os_data, _ = kit.random_disk(12 * MIB + 17)  # three parts, the last one short
    lun_data, _ = kit.random_disk(2 * MIB)
    source = MemoryDiskSource({"file:///img/os.vhd": os_data, "file:///img/lun0.vhd": lun_data})
    stores = regions(kit)
    replicator = Replicator(source, stores, part_size=PART, parallel=2, retry_delay=0, **kw)
    dispatcher, sink = make_dispatcher(replicator)
    disks = [
        kit.certified("file:///img/os.vhd", os_data),
        kit.certified("file:///img/lun0.vhd", lun_data, disk="lun0"),
    ]
    return dispatcher, sink, source, stores, kit.passed_envelope(disks), replicator


async def test_every_disk_reaches_every_region_reading_each_disk_once(kit: ModuleType, make_dispatcher: Any) -> None:
    dispatcher, sink, source, stores, env, replicator = memory_setup(kit, make_dispatcher)
    await dispatcher.process(kit.incoming(env))

    events = sink.events("offerflow.provisioning")
    assert isinstance(events[0], ProvisioningStarted)
    assert "2 disk(s) to 3 region(s)" in events[0].message
    progress = [e for e in events if isinstance(e, ProvisioningProgressed)]
    assert [p.percentage for p in progress] == [16, 33, 50, 66, 83, 100]
    assert progress[1].message.startswith("eastus: lun0 disk of plan gold version 1.0.0 replicated and verified "
                                          "in memory://eastus;")
    assert progress[1].message.endswith("1/3 regions done")
    assert progress[-1].message.endswith("3/3 regions done")
    passed = events[-1]
    assert isinstance(passed, ProvisioningPassed)
    assert {(r.region, r.disk) for r in passed.replicas} == {(region, d) for region in kit.REGIONS
                                                             for d in ("os", "lun0")}
    assert all(r.location.startswith(f"memory://{r.region}/content/sha256/{r.sha256}") for r in passed.replicas)
    # One read of each source, whatever the number of regions.
    assert sorted(source.opened) == ["file:///img/lun0.vhd", "file:///img/os.vhd"]
    assert replicator.bytes_read == sum(d.size_bytes for d in passed.disks)
    for store in stores.values():
        assert sorted(store.uploads) == sorted(d.sha256 for d in passed.disks)
        for disk in passed.disks:
            assert store.contents[disk.sha256] == source.disks[disk.url]
        assert len(store.manifests) == 2 and store.open_uploads == 0


async def test_same_event_twice_copies_nothing_again_and_emits_identical_events(
    kit: ModuleType, make_dispatcher: Any
) -> None:
    dispatcher, sink, source, stores, env, _ = memory_setup(kit, make_dispatcher)
    await dispatcher.process(kit.incoming(env))
    first = [(e.event_id, e.event_type, e.payload) for e in sink.envelopes()]
    opened = len(source.opened)
    sink.records.clear()

    await dispatcher.process(kit.incoming(env))
    second = [(e.event_id, e.event_type, e.payload) for e in sink.envelopes()]
    assert second == first
    assert all(len(s.uploads) == 2 for s in stores.values())
    assert len(source.opened) == opened


async def test_content_already_in_a_region_is_referenced_not_copied(kit: ModuleType, make_dispatcher: Any) -> None:
    dispatcher, sink, source, stores, env, _ = memory_setup(kit, make_dispatcher)
    await dispatcher.process(kit.incoming(env))
    # The same image published as another version: only manifests are written, nothing is read.
    again = env.event().disks  # type: ignore[attr-defined]
    bumped = kit.passed_envelope([d.model_copy(update={"image_version": "1.0.1"}) for d in again])
    opened = len(source.opened)
    await dispatcher.process(kit.incoming(bumped))
    assert isinstance(sink.events()[-1], ProvisioningPassed)
    assert len(source.opened) == opened
    assert all(len(s.uploads) == 2 and len(s.manifests) == 4 for s in stores.values())


async def test_a_region_that_fails_retries_alone(kit: ModuleType, make_dispatcher: Any) -> None:
    dispatcher, sink, source, stores, env, _ = memory_setup(kit, make_dispatcher, attempts=3)
    stores["westeurope"].fail_next = [OSError(errno.EAGAIN, "try again"), ConnectionResetError("reset")]
    await dispatcher.process(kit.incoming(env))
    assert isinstance(sink.events()[-1], ProvisioningPassed)
    # The first fan-out served the other regions; westeurope's retries read only what it still needed.
    assert source.opened.count("file:///img/os.vhd") + source.opened.count("file:///img/lun0.vhd") <= 4
    assert all(len(s.uploads) == 2 and s.open_uploads == 0 for s in stores.values())


async def test_a_region_that_stays_down_fails_the_step_naming_it(kit: ModuleType, make_dispatcher: Any) -> None:
    dispatcher, sink, _, stores, env, _ = memory_setup(kit, make_dispatcher, attempts=2)
    stores["japaneast"].fail_next = [OSError(errno.EIO, "i/o error")] * 10
    await dispatcher.process(kit.incoming(env))
    failed = sink.events()[-1]
    assert isinstance(failed, ProvisioningFailed)
    assert failed.reasons[0].code == "region-unavailable"
    assert failed.reasons[0].message.startswith("japaneast: ")
    assert stores["japaneast"].uploads == []


async def test_a_region_storing_other_bytes_is_refused(kit: ModuleType, make_dispatcher: Any) -> None:
    dispatcher, sink, _, stores, env, _ = memory_setup(kit, make_dispatcher, attempts=2)
    stores["eastus"].corrupt = True
    await dispatcher.process(kit.incoming(env))
    failed = sink.events()[-1]
    assert isinstance(failed, ProvisioningFailed)
    assert failed.reasons[0].message.startswith("eastus: ") and "checksum" in failed.reasons[0].message
    assert stores["eastus"].contents == {}


async def test_a_changed_disk_fails_for_good_and_no_region_commits_it(kit: ModuleType, make_dispatcher: Any) -> None:
    dispatcher, sink, source, stores, env, _ = memory_setup(kit, make_dispatcher)
    source.disks["file:///img/os.vhd"] = b"swapped" + source.disks["file:///img/os.vhd"][7:]
    await dispatcher.process(kit.incoming(env))

    failed = sink.events()[-1]
    assert isinstance(failed, ProvisioningFailed)
    assert failed.notification_emails == ["ops@contoso.example"]
    assert [r.code for r in failed.reasons] == ["disk-changed"]
    assert "os disk of plan gold version 1.0.0" in failed.reasons[0].message
    assert failed.reasons[0].message.split(":")[0] in kit.REGIONS
    assert "changed since certification" in failed.summary
    os_sha = next(d.sha256 for d in env.event().disks if d.disk == "os")  # type: ignore[attr-defined]
    assert all(os_sha not in s.contents and s.open_uploads == 0 for s in stores.values())
    assert dispatcher.dead_lettered == 0


async def test_a_longer_disk_is_refused_without_reading_it_all(kit: ModuleType, make_dispatcher: Any) -> None:
    dispatcher, sink, source, _, env, replicator = memory_setup(kit, make_dispatcher)
    source.disks["file:///img/lun0.vhd"] += b"\0" * (64 * MIB)
    await dispatcher.process(kit.incoming(env))
    assert [r.code for r in sink.events()[-1].reasons] == ["disk-changed"]  # type: ignore[attr-defined]
    assert replicator.bytes_read < 30 * MIB


async def test_unsupported_url_scheme_is_a_clear_permanent_failure(kit: ModuleType, make_dispatcher: Any) -> None:
    data, _ = kit.random_disk(MIB)
    replicator = Replicator(UrlDiskSource(max_bytes=1 << 30), regions(kit), retry_delay=0)
    dispatcher, sink = make_dispatcher(replicator)
    env = kit.passed_envelope([kit.certified("ftp://blob.example/c/os.vhd?sig=SECRET", data)])
    await dispatcher.process(kit.incoming(env))

    failed = sink.events()[-1]
    assert isinstance(failed, ProvisioningFailed)
    assert [r.code for r in failed.reasons] == ["unsupported-url-scheme"]
    assert "SECRET" not in failed.reasons[0].message


async def test_missing_source_file_fails_as_unreadable(tmp_path: Path, kit: ModuleType, make_dispatcher: Any) -> None:
    data, _ = kit.random_disk(MIB)
    env = kit.passed_envelope([kit.certified((tmp_path / "gone.vhd").as_uri(), data)])
    (tmp_path / env.publisher_id).mkdir()
    policy = EgressPolicy(file_root=tmp_path)
    replicator = Replicator(UrlDiskSource(max_bytes=1 << 30, policy=policy), regions(kit), retry_delay=0)
    dispatcher, sink = make_dispatcher(replicator)
    await dispatcher.process(kit.incoming(env))
    failed = sink.events()[-1]
    assert isinstance(failed, ProvisioningFailed)
    assert failed.reasons[0].code == "disk-url-not-allowed"  # not in the publisher's folder: never opened
    env = kit.passed_envelope([kit.certified((tmp_path / env.publisher_id / "gone.vhd").as_uri(), data)])
    await dispatcher.process(kit.incoming(env))
    failed = sink.events()[-1]
    assert isinstance(failed, ProvisioningFailed)
    assert failed.reasons[0].code == "disk-unreadable"


async def test_permanent_os_errors_are_not_retried(kit: ModuleType, make_dispatcher: Any) -> None:
    dispatcher, sink, _, stores, env, _ = memory_setup(kit, make_dispatcher, attempts=5)
    stores["eastus"].fail_next = [OSError(errno.EACCES, "permission denied")]
    await dispatcher.process(kit.incoming(env))
    failed = sink.events()[-1]
    assert isinstance(failed, ProvisioningFailed)
    assert failed.reasons[0].code == "replication-failed"
    assert "permission denied" in failed.reasons[0].message


async def test_unsafe_ids_never_become_keys(kit: ModuleType, make_dispatcher: Any) -> None:
    data, _ = kit.random_disk(MIB)
    replicator = Replicator(MemoryDiskSource({"file:///x": data}), regions(kit), retry_delay=0)
    dispatcher, sink = make_dispatcher(replicator)
    await dispatcher.process(kit.incoming(kit.passed_envelope([kit.certified("file:///x", data, plan="../../etc")])))
    failed = sink.events()[-1]
    assert isinstance(failed, ProvisioningFailed)
    assert failed.reasons[0].code == "invalid-name"
