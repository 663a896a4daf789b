"""Root file systems other than plain ext4, on real images: ext4 features the reader refuses or reads, XFS, Btrfs
and LVM2 roots, through the certifier (`report.run_tests`) and once through `offerflow certify --json`."""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from offerflow_certification import report
from offerflow_certification.adapters.source import hash_file
from offerflow_certification.image import linux
from offerflow_certification.image.certifier import Profile, os_tests
from offerflow_certification.image.disk import Region, lvm_volumes, probe
from offerflow_certification.image.findings import Finding, ImageError
from offerflow_cli import main as cli_main
from tests.images.builder import build_linux_vhd
from tests.images.fs_variants import build_fs_variant

PART = 2048 * 512
REFUSED = ["meta_bg", "encrypt", "inline_data", "casefold", "compression", "needs_recovery", "journal_dev"]
READ = ["bigalloc", "metadata_csum", "no-extents"]
DISK_LEVEL = {"vhd.cookie", "vhd.checksum", "vhd.disk_type", "vhd.min_size", "vhd.size_alignment",
              "vhd.file_length", "mbr.partition_table", "mbr.partitions_inside_disk", "mbr.first_mib_free",
              "disk.size_limit", "disk.first_mib_empty"}
needs_lvm = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("lvcreate", path="/usr/sbin:/sbin") is None,
                               reason="LVM test images need root, a loop device and lvm2")


def run(path: Path) -> tuple[list[Finding], str | None]:
    """The findings and the OS name of the report built from them, as the service and the CLI build it."""
    image = hash_file(path, max_bytes=1 << 40, chunk_bytes=1 << 20)
    findings, os_run = report.run_tests(image, Profile())
    built = report.build(report.DiskId("std", "1.0.0", "os", path.as_uri()), image, findings, os_run)
    return findings + os_run.findings, built.os_name


def key(row: dict[str, object]) -> str:
    """A self-test row's test key (beside the original tool's numeric TestID when the row has both)."""
    return str(row.get("TestKey", row["TestID"]))


def by_id(findings: list[Finding]) -> dict[str, Finding]:
    return {f.test_id: f for f in findings}


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fs-kinds")


@pytest.fixture(scope="module")
def compliant_results(images: Path) -> dict[str, str]:
    return {f.test_id: f.result for f in run(build_linux_vhd(images / "ext4.vhd"))[0]}


@pytest.mark.parametrize("feature", REFUSED)
def test_an_ext4_feature_the_reader_does_not_follow_fails_the_root_file_system_by_name(images: Path,
                                                                                       feature: str) -> None:
    findings, os_name = run(build_fs_variant(images / f"{feature}.vhd", f"ext4-{feature}"))
    bad = [f for f in findings if f.result != "Passed"]
    assert [f.test_id for f in bad] == ["linux.filesystem"], [(f.test_id, f.actual) for f in bad]
    assert bad[0].result == "Failed"
    assert f"partition 1: cannot read: ext4 feature {feature} not supported" in bad[0].actual
    assert os_name is None  # nothing was read from it, not even the OS name


@pytest.mark.parametrize("feature", READ)
def test_an_ext4_feature_the_reader_follows_gives_the_same_report_as_plain_ext4(
        images: Path, feature: str, compliant_results: dict[str, str]) -> None:
    findings, os_name = run(build_fs_variant(images / f"{feature}.vhd", f"ext4-{feature}"))
    assert {f.test_id: f.result for f in findings} == compliant_results
    assert "Failed" not in compliant_results.values()
    assert os_name == "Ubuntu 22.04.4 LTS"


def _assert_unread_root(findings: list[Finding], where: str, kind: str) -> dict[str, Finding]:
    got = by_id(findings)
    fs = got["linux.filesystem"]
    assert fs.result == "Warning"
    assert fs.actual.startswith(f"{kind} on {where}: the Linux tests cannot be run offline on {kind}")
    # The disk-level tests still run and pass; every test that needs the root's files says it did not run.
    assert {t for t in DISK_LEVEL if got[t].result == "Passed"} == DISK_LEVEL
    file_tests = {t for t in got if t.startswith("linux.")} - {"linux.filesystem", "linux.swap"}
    assert file_tests == {t for t, _ in linux.CHECKS} - {"linux.swap"}
    for t in file_tests:
        assert got[t].result == "Warning" and got[t].actual == f"not run: {kind} on {where} is not read offline"
    return got


@pytest.mark.parametrize(("variant", "kind"), [("xfs", "XFS"), ("btrfs", "Btrfs")])
def test_an_xfs_or_btrfs_root_is_named_and_its_file_tests_are_warnings(images: Path, variant: str,
                                                                        kind: str) -> None:
    path = build_fs_variant(images / f"{variant}.vhd", variant)
    with open(path, "rb") as f:
        assert probe(Region(f, PART, path.stat().st_size - 512 - PART)).kind == variant
    findings, os_name = run(path)
    got = _assert_unread_root(findings, "partition 1", kind)
    assert got["linux.swap"].result == "Warning" and "/etc/fstab not read" in got["linux.swap"].actual
    assert not [f for f in findings if f.result == "Failed"] and os_name is None


def _lvm_names(path: Path) -> tuple[str, list[str]]:
    with open(path, "rb") as f:
        lvs = lvm_volumes(Region(f, PART, path.stat().st_size - 512 - PART, "partition 1"))
    assert {lv.layout for lv in lvs} == {"linear"}
    return lvs[0].vg, [lv.name for lv in lvs]


@needs_lvm
def test_an_lvm_root_on_xfs_names_its_volume_group_and_volumes(images: Path) -> None:
    path = build_fs_variant(images / "lvm-xfs.vhd", "lvm-xfs")
    vg, names = _lvm_names(path)
    assert vg.startswith("oflvg") and names == ["root", "swap"]
    findings, _ = run(path)
    got = _assert_unread_root(findings, f"LV {vg}/root on partition 1", "XFS")
    # The swap LV is found from its signature without reading the root: a disk-level failure that still counts.
    assert got["linux.swap"].result == "Failed"
    assert got["linux.swap"].actual == f"LV {vg}/swap on partition 1 (swap signature)"
    assert [f.test_id for f in findings if f.result == "Failed"] == ["linux.swap"]


@needs_lvm
def test_an_lvm_root_on_ext4_is_read_through_its_logical_volume(images: Path,
                                                                 compliant_results: dict[str, str]) -> None:
    path = build_fs_variant(images / "lvm-ext4.vhd", "lvm-ext4")
    vg, names = _lvm_names(path)
    assert names == ["root"]
    findings, os_name = run(path)
    assert {f.test_id: f.result for f in findings} == compliant_results
    assert by_id(findings)["linux.filesystem"].actual == f"ext file system on LV {vg}/root on partition 1"
    assert os_name == "Ubuntu 22.04.4 LTS"


@needs_lvm
def test_corrupted_lvm_metadata_gives_errors_never_crashes_or_hangs(images: Path) -> None:
    path = build_fs_variant(images / "lvm-corrupt.vhd", "lvm-ext4")
    original = path.read_bytes()
    text_at = original.index(b"logical_volumes", PART)
    rng = random.Random(7)
    outcomes = set()
    with open(path, "r+b") as f:
        for _ in range(40):
            # The label and PV header (first KiB), the metadata area header and the metadata text.
            spots = [rng.choice([PART + rng.randrange(0, 1024), PART + 4096 + rng.randrange(0, 64),
                                 text_at + rng.randrange(-600, 600)]) for _ in range(rng.randrange(1, 16))]
            for at in spots:
                f.seek(at)
                f.write(bytes([rng.randrange(256)]))
            f.flush()
            started = time.monotonic()
            got = by_id(os_tests(f, len(original), Profile()).findings)
            assert time.monotonic() - started < 5
            outcomes.add((got.get("linux.filesystem") or got["os.detected"]).result)
            for at in spots:
                f.seek(at)
                f.write(original[at : at + 1])
    assert "Failed" in outcomes  # corruption is reported, not ignored


@needs_lvm
def test_metadata_text_wrapping_round_the_circular_area_is_read(images: Path, tmp_path: Path) -> None:
    path = build_fs_variant(images / "lvm-wrap.vhd", "lvm-ext4")
    vg, _ = _lvm_names(path)
    data = bytearray(path.read_bytes())
    mda = PART + 4096  # pvcreate's first metadata area
    area_size = struct.unpack_from("<Q", data, mda + 32)[0]
    offset, size = struct.unpack_from("<QQ", data, mda + 40)
    text = bytes(data[mda + offset : mda + offset + size])
    first = 100  # move the text to the end of the area so that all but 100 bytes wrap to just after the header
    data[mda + offset : mda + offset + size] = bytes(size)
    data[mda + area_size - first : mda + area_size] = text[:first]
    data[mda + 512 : mda + 512 + size - first] = text[first:]
    struct.pack_into("<Q", data, mda + 40, area_size - first)
    path.write_bytes(data)
    assert _lvm_names(path) == (vg, ["root"])


def test_offerflow_certify_json_reports_an_xfs_root_as_warnings_and_exit_0(images: Path) -> None:
    path = build_fs_variant(images / "cli-xfs.vhd", "xfs")
    cli_main._register()
    result = CliRunner().invoke(cli_main.app, ["certify", str(path), "--json"])
    doc = json.loads(result.output)
    assert result.exit_code == 0 and doc["TestResult"] == "Pass"
    tests = {key(t): t for t in doc["Tests"]}
    assert tests["linux.filesystem"]["Result"] == "Warning"
    assert tests["linux.filesystem"]["ActualValue"].startswith(
        "XFS on partition 1: the Linux tests cannot be run offline on XFS")
    # The root file system test and every test reading the root (linux.swap included: /etc/fstab is not read).
    assert sum(t["Result"] == "Warning" for t in doc["Tests"]) == 1 + len(linux.CHECKS)
    assert tests["vhd.disk_type"]["Result"] == "Passed"


def test_an_ext4_feature_refusal_exits_1_through_the_cli(images: Path) -> None:
    path = build_fs_variant(images / "cli-inline.vhd", "ext4-inline_data")
    cli_main._register()
    result = CliRunner().invoke(cli_main.app, ["certify", str(path), "--json"])
    doc = json.loads(result.output)
    assert result.exit_code == 1 and doc["TestResult"] == "Fail"
    failed = [t for t in doc["Tests"] if t["Result"] == "Failed"]
    assert [key(t) for t in failed] == ["linux.filesystem"]
    assert "cannot read: ext4 feature inline_data not supported" in failed[0]["ActualValue"]


def test_a_volume_without_an_lvm2_label_is_refused(images: Path) -> None:
    path = build_fs_variant(images / "not-lvm.vhd", "btrfs")
    with open(path, "rb") as f, pytest.raises(ImageError, match="no LVM2 label"):
        lvm_volumes(Region(f, PART, 1 << 20, "partition 1"))
