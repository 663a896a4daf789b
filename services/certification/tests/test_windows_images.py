"""The Windows tests on real Windows-shaped disks: the good disk passes every test, each variant fails exactly one.

The disks (``tests/images/windows.py``) are 30 GiB sparse fixed VHDs with one NTFS partition made by mkntfs and
filled through ntfs-3g: a PE32+ ntoskrnl.exe and srv.sys built by mingw-w64 with real VERSIONINFO resources, and
a SYSTEM hive written by hivex. Independent tools (ntfscat, objdump, windres, hivexget, hivexml) read them back,
so the builder cannot agree with the certifier by sharing a mistake. Building needs root (a FUSE mount), ntfs-3g,
mingw-w64 and hivex; the disks are cached (``~/.cache/offerflow/images``), so only the first run builds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from offerflow_certification import report
from offerflow_certification.adapters.source import LocalImage
from offerflow_certification.image import windows
from offerflow_certification.image.certifier import Profile
from offerflow_certification.image.disk import Region
from offerflow_certification.image.findings import Finding, ImageError
from tests.images import ntfs, regf
from tests.images import windows as win
from tests.images.vhd import FOOTER_SIZE, MIB, SECTOR

_TOOLS = ("mkntfs", "ntfs-3g", "ntfscat", "umount", "hivexsh", "hivexget", "hivexml", "x86_64-w64-mingw32-gcc",
          "x86_64-w64-mingw32-windres", "x86_64-w64-mingw32-objdump")
_SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
_FILE_TESTS = {"windows.architecture", "windows.srv_sys", "windows.rdp"}
_VOLUME_AT = win.START_LBA * SECTOR


def _need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t, path=_SBIN) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")


@pytest.fixture(scope="module")
def images() -> dict[str, Path]:
    _need(*_TOOLS)
    if os.geteuid() != 0:
        pytest.skip("building Windows images needs root (an ntfs-3g FUSE mount)")
    return {v: win.build_windows(v) for v in win.VARIANTS}


def run(path: Path) -> list[Finding]:
    # The OS and format tests never read the digest; hashing 30 GiB (holes included) is paid once, by the CLI test.
    image = LocalImage(path, path.stat().st_size, sha256="not computed: the tests do not read it")
    findings, os_run = report.run_tests(image, Profile())
    return [*findings, *os_run.findings]


def volume_file(disk: Path, tmp: Path, rel: str) -> bytes:
    """A file of the disk's NTFS volume as ntfs-3g's own ntfscat reads it (not the certifier's libfsntfs)."""
    volume = tmp / "volume.ntfs"
    if not volume.exists():
        length = disk.stat().st_size - FOOTER_SIZE - _VOLUME_AT
        with open(volume, "wb") as f:
            f.truncate(length)
        ntfs.copy_extents(disk, volume, 0, src_offset=_VOLUME_AT, length=length)
    done = subprocess.run([str(shutil.which("ntfscat")), str(volume), rel], capture_output=True, check=True)
    return done.stdout


def tool_output(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


# --------------------------------------------------------------------------- the disks


def test_the_disk_is_a_sparse_30_gib_fixed_vhd(images: dict[str, Path]) -> None:
    good = images["good"]
    assert good.stat().st_size == win.DISK_SIZE + FOOTER_SIZE == 30 * 1024 * MIB + 512
    used = int(tool_output("du", "--block-size=1", str(good)).split()[0])
    assert used < 128 * MIB, f"{used} bytes on disk: the image is not sparse"
    with open(good, "rb") as f:
        mbr = f.read(SECTOR)
    assert mbr[446 + 4] == 0x07 and mbr[510:512] == b"\x55\xaa"
    assert int.from_bytes(mbr[446 + 8 : 446 + 12], "little") == win.START_LBA


def test_the_good_disk_passes_every_test(images: dict[str, Path]) -> None:
    findings = run(images["good"])
    not_passed = {f.test_id: (f.result, f.actual) for f in findings if f.result != "Passed"}
    assert not_passed == {"windows.offline_limits": ("Warning", not_passed["windows.offline_limits"][1])}
    got = {f.test_id: f for f in findings}
    assert {"disk.size_limit", "windows.bitlocker", *_FILE_TESTS} <= set(got)
    assert got["windows.architecture"].actual == "PE32+, machine 0x8664 (AMD64)"
    assert got["windows.srv_sys"].actual == win.SERVER_2016
    # ControlSet002 still denies RDP: the pass proves Select\Current was followed.
    assert got["windows.rdp"].actual == "fDenyTSConnections = 0 in ControlSet001"


@pytest.mark.parametrize("variant", [v for v in win.VARIANTS if v != "good"])
def test_each_variant_fails_exactly_its_test(images: dict[str, Path], variant: str) -> None:
    findings = run(images[variant])
    failed = {f.test_id for f in findings if f.result == "Failed"}
    expected = win.VARIANTS[variant][1]
    assert failed == ({expected} if expected else set()), [(f.test_id, f.actual) for f in findings if not f.passed]
    for f in findings:
        if not f.passed:
            assert f.actual and f.required


def test_variant_findings_say_what_was_found(images: dict[str, Path]) -> None:
    def actual(variant: str, test_id: str) -> str:
        return next(f.actual for f in run(images[variant]) if f.test_id == test_id)

    assert actual("kernel-32bit", "windows.architecture") == "PE32, machine 0x014c (i386)"
    assert actual("old-srv", "windows.srv_sys") == "10.0.14393.447"
    assert actual("rdp-denied", "windows.rdp") == "fDenyTSConnections = 1 in ControlSet001"
    encrypted = {f.test_id: f for f in run(images["bitlocker"])}
    assert "Windows 7 or later" in encrypted["windows.bitlocker"].actual
    for test_id in _FILE_TESTS:  # unreadable, so a Warning: never a pass, and not a defect of their own
        assert encrypted[test_id].result == "Warning" and "BitLocker" in encrypted[test_id].actual


def test_independent_tools_read_what_the_certifier_reads(images: dict[str, Path], tmp_path: Path) -> None:
    good = images["good"]
    objdump = str(shutil.which("x86_64-w64-mingw32-objdump"))
    windres = str(shutil.which("x86_64-w64-mingw32-windres"))
    for rel in (win.KERNEL, win.SRV):
        binary = tmp_path / Path(rel).name
        binary.write_bytes(volume_file(good, tmp_path, rel))
        headers = tool_output(objdump, "-p", str(binary))
        assert "file format pei-x86-64" in headers and "(PE32+)" in headers
        assert "FILEVERSION 10, 0, 14393, 953" in tool_output(windres, "-i", str(binary), "-O", "rc")
    hive = tmp_path / "SYSTEM"
    hive.write_bytes(volume_file(good, tmp_path, win.SYSTEM_HIVE))
    hivexget = str(shutil.which("hivexget"))
    assert tool_output(hivexget, str(hive), "\\Select", "Current").strip() == "1"
    assert tool_output(hivexget, str(hive), "\\ControlSet001\\Control\\Terminal Server",
                       "fDenyTSConnections").strip() == "0"
    xml = tool_output(str(shutil.which("hivexml")), str(hive))
    assert '<value type="int32" key="fDenyTSConnections" value="0">' in xml


def test_the_32_bit_kernel_is_a_real_pe32(images: dict[str, Path], tmp_path: Path) -> None:
    kernel = tmp_path / "ntoskrnl.exe"
    kernel.write_bytes(volume_file(images["kernel-32bit"], tmp_path, win.KERNEL))
    headers = tool_output(str(shutil.which("x86_64-w64-mingw32-objdump")), "-p", str(kernel))
    assert "file format pei-i386" in headers and "(PE32)" in headers


def test_the_os_volume_is_the_one_holding_windows(images: dict[str, Path], tmp_path: Path) -> None:
    # A "System Reserved" volume (boot files only) comes first on disks made by Windows Setup.
    reserved = tmp_path / "reserved.ntfs"
    ntfs.make_volume(reserved, 64 * MIB, win.START_LBA, label="System Reserved")
    with open(reserved, "rb") as r, open(images["good"], "rb") as g, open(images["bitlocker"], "rb") as b:
        first = Region(r, 0, 64 * MIB, "partition 1")
        good = Region(g, _VOLUME_AT, win.DISK_SIZE - _VOLUME_AT, "partition 2")
        encrypted = Region(b, _VOLUME_AT, win.DISK_SIZE - _VOLUME_AT, "partition 2")
        assert windows.os_volume([(first, "ntfs"), (good, "ntfs")]) == (good, "ntfs")
        assert windows.os_volume([(first, "ntfs"), (encrypted, "bitlocker")]) == (encrypted, "bitlocker")
        assert windows.os_volume([(first, "ntfs")]) == (first, "ntfs")


def test_offerflow_certify_passes_the_good_disk(images: dict[str, Path]) -> None:
    cli = Path(sys.executable).with_name("offerflow")
    done = subprocess.run([str(cli), "certify", "--json", str(images["good"])], capture_output=True, text=True,
                          check=False, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    doc = json.loads(done.stdout)
    assert doc["TestResult"] == "Pass" and doc["OSName"] == "Windows"
    assert doc["SizeBytes"] == win.DISK_SIZE + FOOTER_SIZE and len(doc["Sha256"]) == 64
    results = {row.get("TestKey", row["TestID"]): row["Result"] for row in doc["Tests"]}
    assert {k: results[k] for k in ("disk.size_limit", "windows.bitlocker", *_FILE_TESTS)} == dict.fromkeys(
        ("disk.size_limit", "windows.bitlocker", *_FILE_TESTS), "Passed")


# --------------------------------------------------------------------------- hives, without a disk


def _hive(tmp_path: Path, keys: dict[str, dict[str, regf.Value]]) -> bytes:
    _need("hivexsh")
    return regf.build_hive(tmp_path / "SYSTEM", keys).read_bytes()


def test_hivex_accepts_the_empty_hive_and_refuses_a_bad_checksum(tmp_path: Path) -> None:
    _need("hivexml")
    hivexml = str(shutil.which("hivexml"))
    empty = tmp_path / "empty"
    empty.write_bytes(regf.empty_hive())
    assert '<node name="ROOT" root="1">' in tool_output(hivexml, str(empty))
    broken = bytearray(regf.empty_hive())
    broken[0x0C] ^= 1  # the timestamp, covered by the base block's checksum
    empty.write_bytes(bytes(broken))
    assert subprocess.run([hivexml, str(empty)], capture_output=True, check=False).returncode != 0


def test_rdp_follows_select_current(tmp_path: Path) -> None:
    terminal = "Control\\Terminal Server"
    hive = _hive(tmp_path, {"Select": {"Current": ("dword", 2)},
                            f"ControlSet001\\{terminal}": {"fDenyTSConnections": ("dword", 1)},
                            f"ControlSet002\\{terminal}": {"fDenyTSConnections": ("dword", 0)}})
    assert windows.rdp_setting(hive) == ("ControlSet002", 0)


def test_rdp_unset_or_not_a_dword_is_unset(tmp_path: Path) -> None:
    hive = _hive(tmp_path, {"Select": {"Current": ("dword", 1)},
                            "ControlSet001\\Control\\Terminal Server": {"fDenyTSConnections": ("string", "0"),
                                                                       "fSingleSessionPerUser": ("dword", 1)}})
    assert windows.rdp_setting(hive) == ("ControlSet001", None)


@pytest.mark.parametrize(("keys", "message"), [
    ({"ControlSet001\\Control\\Terminal Server": {"fDenyTSConnections": ("dword", 0)}}, "no Select key"),
    ({"Select": {"Current": ("dword", 3)}, "ControlSet001\\Control\\Terminal Server": {}},
     "ControlSet003\\Control\\Terminal Server not found"),
    ({"Select": {"Default": ("dword", 1)}}, "Select\\Current is None"),
])
def test_a_hive_without_the_current_control_set_says_so(tmp_path: Path, keys: dict[str, dict[str, regf.Value]],
                                                         message: str) -> None:
    with pytest.raises(ImageError, match=message.replace("\\", "\\\\")):
        windows.rdp_setting(_hive(tmp_path, keys))
