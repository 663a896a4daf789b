from __future__ import annotations

import errno
from types import ModuleType

import pytest

from offerflow_provisioning import rules
from offerflow_provisioning.settings import DEFAULT_REGIONS, Settings


def test_percentage_is_rounded_down_and_bounded() -> None:
    assert rules.percentage(0, 16) == 0
    assert rules.percentage(15, 16) == 93
    assert rules.percentage(16, 16) == 100
    assert rules.percentage(0, 0) == 100


def test_plan_copies_is_region_major_and_regions_done_counts_whole_regions(kit: ModuleType) -> None:
    os_disk = kit.certified("file:///a", b"a")
    lun = kit.certified("file:///b", b"b", disk="lun0")
    jobs = rules.plan_copies("contoso", "web", ["eastus", "westus2", "eastus"], [os_disk, lun])
    assert [(j.key.region, j.key.disk) for j in jobs] == [
        ("eastus", "os"),
        ("eastus", "lun0"),
        ("westus2", "os"),
        ("westus2", "lun0"),
    ]
    assert [rules.regions_done(jobs, n) for n in range(5)] == [0, 0, 1, 1, 2]
    assert rules.progress_message(jobs, 2) == (
        "westus2: os disk of plan gold version 1.0.0 replicated and verified; 1/2 regions done"
    )
    assert jobs[0].key.parts() == ("eastus", "contoso", "web", "gold", "1.0.0", "os.vhd")
    assert rules.remaining(jobs, {jobs[0].key, jobs[3].key}) == [jobs[1], jobs[2]]


@pytest.mark.parametrize("bad", ["..", "../x", "a/b", "", ".hidden", "x" * 200])
def test_unsafe_segments_are_refused(bad: str) -> None:
    with pytest.raises(rules.UnsafeName):
        rules.safe_segment(bad, "offer id")


def test_transient_classification() -> None:
    assert rules.is_transient(OSError(errno.EAGAIN, "x"))
    assert rules.is_transient(OSError(errno.ENOSPC, "x"))
    assert rules.is_transient(ConnectionResetError())
    assert not rules.is_transient(PermissionError(errno.EACCES, "x"))
    assert not rules.is_transient(FileNotFoundError(errno.ENOENT, "x"))


def test_settings_defaults_and_comma_separated_regions(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().regions == list(DEFAULT_REGIONS)
    assert len(DEFAULT_REGIONS) == 8
    monkeypatch.setenv("OFFERFLOW_PROVISIONING_REGIONS", "eastus, westeurope")
    monkeypatch.setenv("OFFERFLOW_PROVISIONING_CHUNK_MIB", "8")
    s = Settings()
    assert s.regions == ["eastus", "westeurope"]
    assert s.chunk_mib == 8
    assert s.web_port == 6063
