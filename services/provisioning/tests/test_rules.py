from __future__ import annotations

import errno
import json
from pathlib import Path
from types import ModuleType

import pytest

from offerflow_provisioning import rules
from offerflow_provisioning.settings import Settings
from offerflow_shared.names import UnsafeName


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
    assert rules.progress_message(jobs, 2, "https://s3.westus2.example/offerflow-westus2") == (
        "westus2: os disk of plan gold version 1.0.0 replicated and verified in "
        "https://s3.westus2.example/offerflow-westus2; 1/2 regions done"
    )
    assert jobs[0].key.parts() == ("eastus", "contoso", "web", "gold", "1.0.0", "os.vhd")
    assert rules.remaining(jobs, {jobs[0].key, jobs[3].key}) == [jobs[1], jobs[2]]


@pytest.mark.parametrize("bad", ["..", "../x", "a/b", "", ".hidden", "x" * 200])
def test_plan_copies_refuses_a_name_that_cannot_be_a_folder(kit: ModuleType, bad: str) -> None:
    disk = kit.certified("file:///a", b"a")
    with pytest.raises(UnsafeName, match="offer id"):
        rules.plan_copies("contoso", bad, ["eastus"], [disk])
    with pytest.raises(UnsafeName, match="region"):
        rules.plan_copies("contoso", "web", [bad], [disk])


def test_transient_classification() -> None:
    assert rules.is_transient(OSError(errno.EAGAIN, "x"))
    assert rules.is_transient(OSError(errno.ENOSPC, "x"))
    assert rules.is_transient(ConnectionResetError())
    assert not rules.is_transient(PermissionError(errno.EACCES, "x"))
    assert not rules.is_transient(FileNotFoundError(errno.ENOENT, "x"))


def _map(tmp_path: Path, regions: list[dict[str, object]]) -> Path:
    path = tmp_path / "regions.json"
    path.write_text(json.dumps({"regions": regions}))
    return path


def test_the_region_map_names_the_regions_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFERFLOW_PROVISIONING_REGION_MAP_FILE", str(_map(tmp_path, [
        {"name": "westeurope", "endpoint_url": "https://s3.westeurope.example", "bucket": "offerflow-westeurope",
         "access_key_id": "AK", "secret_access_key": "SECRET"},
        {"name": "eastus", "bucket": "offerflow-eastus", "signing_region": "us-east-1"}])))
    monkeypatch.setenv("OFFERFLOW_PROVISIONING_PART_MIB", "16")
    s = Settings()
    assert s.regions.names == ["westeurope", "eastus"]
    assert s.part_mib == 16 and s.web_port == 6063
    assert "SECRET" not in repr(s.regions)


def test_settings_refuse_a_missing_or_bad_region_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OFFERFLOW_PROVISIONING_REGION_MAP_FILE", raising=False)
    with pytest.raises(ValueError, match="REGION_MAP_FILE is required"):
        Settings()
    monkeypatch.setenv("OFFERFLOW_PROVISIONING_REGION_MAP_FILE", str(tmp_path / "absent.json"))
    with pytest.raises(ValueError, match="cannot be read"):
        Settings()
    twice = [{"name": "eastus", "bucket": "offerflow-a"}, {"name": "eastus", "bucket": "offerflow-b"}]
    monkeypatch.setenv("OFFERFLOW_PROVISIONING_REGION_MAP_FILE", str(_map(tmp_path, twice)))
    with pytest.raises(ValueError, match="listed twice"):
        Settings()
    monkeypatch.setenv("OFFERFLOW_PROVISIONING_REGION_MAP_FILE", str(_map(tmp_path, [{"name": "eastus",
                                                                                        "bucket": "Bad_Bucket"}])))
    with pytest.raises(ValueError, match="regions/0/bucket"):
        Settings()


def test_production_refuses_plaintext_endpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFERFLOW_PROVISIONING_REGION_MAP_FILE", str(_map(tmp_path, [
        {"name": "eastus", "endpoint_url": "http://10.0.0.5:9000", "bucket": "offerflow-eastus"}])))
    assert Settings().regions.names == ["eastus"]  # development: fine
    monkeypatch.setenv("OFFERFLOW_ENVIRONMENT", "production")
    monkeypatch.setenv("OFFERFLOW_SECRETS_KEY", "x" * 44)
    monkeypatch.delenv("OFFERFLOW_FILE_URL_ROOT", raising=False)  # the test stack's development file root
    with pytest.raises(ValueError, match="OFFERFLOW_PROVISIONING_REGION_MAP_FILE"):
        Settings()
