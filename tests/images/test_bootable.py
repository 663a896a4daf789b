"""The bootable Debian images: each variant has its defining defect and nothing else; good certifies.

Building needs root, loop devices, debootstrap and the Debian mirror of this machine's apt configuration; the images
are cached (``~/.cache/offerflow/images``), so only the first run builds. The boots themselves are in tests/staging.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from offerflow_certification import report
from offerflow_certification.adapters.source import hash_file
from offerflow_certification.image.certifier import Profile
from tests.images import bootable
from tests.images.bootable_variants import EXTLINUX_CONF, FLOOR_INIT, FLOOR_LINE, debian_sources
from tests.images.errors import BuilderError
from tests.images.vhd import FOOTER_SIZE, MIB, PARTITION_START_LBA, SECTOR

SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
FS_OFFSET = PARTITION_START_LBA * SECTOR
_TOOLS = ("debootstrap", "extlinux", "losetup", "mkfs.ext4", "debugfs", "e2fsck", "chroot")


@pytest.fixture(scope="module")
def images() -> dict[str, Path]:
    missing = [t for t in _TOOLS if shutil.which(t, path=SBIN) is None]
    if os.geteuid() != 0 or missing:
        pytest.skip(f"building bootable images needs root and {', '.join(_TOOLS)} (missing: {missing or 'root'})")
    return {v: bootable.build_bootable(v) for v in bootable.VARIANTS}


def fs_run(image: Path, request: str) -> str:
    debugfs = shutil.which("debugfs", path=SBIN)
    assert debugfs is not None
    done = subprocess.run([debugfs, "-R", request, f"{image}?offset={FS_OFFSET}"], capture_output=True, text=True,
                          check=True)
    return done.stdout


def read(image: Path, path: str) -> str:
    return fs_run(image, f"cat {path}")


def exists(image: Path, path: str) -> bool:
    return "File not found" not in subprocess.run(
        [str(shutil.which("debugfs", path=SBIN)), "-R", f"stat {path}", f"{image}?offset={FS_OFFSET}"],
        capture_output=True, text=True, check=True).stderr


def fs_uuid(image: Path) -> str:
    m = re.search(r"Filesystem UUID:\s+(\S+)", fs_run(image, "stats"))
    assert m, "no UUID in the superblock"
    return m.group(1)


def append(image: Path) -> list[str]:
    lines = [ln.split()[1:] for ln in read(image, f"/{EXTLINUX_CONF}").splitlines() if ln.strip().startswith("APPEND")]
    assert len(lines) == 1
    return lines[0]


def head(image: Path, n: int = MIB) -> bytes:
    with image.open("rb") as f:
        return f.read(n)


pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]


def test_good_has_a_boot_loader_one_partition_and_an_empty_first_mib(images: dict[str, Path]) -> None:
    good = images["good"]
    first = head(good)
    mbr_bin = next(Path(p) for p in bootable._MBR_CODE if Path(p).is_file()).read_bytes()[:440]
    assert first[:440] == mbr_bin and any(first[:440])
    assert first[510:512] == b"\x55\xaa"
    status, ptype, start, sectors = struct.unpack_from("<B3xB3xII", first, 446)
    assert (status, ptype, start) == (0x80, 0x83, PARTITION_START_LBA)
    assert first[462:510] == bytes(48)  # slots 2-4 empty: no swap, no second root
    assert not any(first[SECTOR:])  # GRUB's core.img would sit here; EXTLINUX keeps it inside the partition
    size = good.stat().st_size - FOOTER_SIZE
    assert (start + sectors) * SECTOR == size <= 1024 * MIB and size % MIB == 0
    with good.open("rb") as f:
        f.seek(size)
        footer = f.read(FOOTER_SIZE)
    assert footer[:8] == b"conectix" and struct.unpack_from(">Q", footer, 48)[0] == size
    assert exists(good, "/boot/extlinux/ldlinux.sys") and exists(good, "/boot/extlinux/ldlinux.c32")


def test_good_boots_its_own_root_with_the_serial_console(images: dict[str, Path]) -> None:
    good = images["good"]
    params = append(good)
    assert f"root=UUID={fs_uuid(good)}" in params
    assert {"console=ttyS0", "earlyprintk=ttyS0"} <= set(params)
    assert not [p for p in params if p.startswith(("rootdelay=", "init="))]
    assert read(good, "/etc/fstab").split()[:2] == [f"UUID={fs_uuid(good)}", "/"]
    conf = read(good, f"/{EXTLINUX_CONF}")
    for path in re.findall(r"^\s*(?:LINUX|INITRD)\s+(\S+)", conf, re.M):
        assert exists(good, path), path


def test_good_has_what_the_boot_check_needs(images: dict[str, Path]) -> None:
    good = images["good"]
    for path in ("/usr/sbin/init", "/usr/lib/systemd/systemd", "/usr/sbin/sshd", "/usr/bin/cloud-init",
                 "/usr/sbin/waagent", "/usr/bin/python3", "/etc/systemd/network/80-dhcp.network"):
        assert exists(good, path), path
    assert "NoCloud" in read(good, "/etc/cloud/cloud.cfg.d/90-offerflow.cfg")
    assert re.search(r"^AutoUpdate\.Enabled=y$", read(good, "/etc/waagent.conf"), re.M)
    assert not [n for n in fs_run(good, "ls -p /etc/ssh").split("/") if n.startswith("ssh_host_")]
    assert read(good, "/etc/machine-id") == ""


def test_good_passes_certification(images: dict[str, Path]) -> None:
    local = hash_file(images["good"], max_bytes=1 << 40, chunk_bytes=4 << 20)
    findings, os_result = report.run_tests(local, Profile())
    got = {f.test_id: f.result for f in findings + os_result.findings}
    assert "Failed" not in got.values(), {k: v for k, v in got.items() if v != "Passed"}
    # The only doubt is rootdelay=300, left out on purpose: it would make every boot wait five minutes.
    assert {k for k, v in got.items() if v == "Warning"} == {"linux.kernel_parameters"}
    assert os_result.os_name and "Debian GNU/Linux 12" in os_result.os_name


def test_no_bootloader_keeps_the_table_and_loses_the_code(images: dict[str, Path]) -> None:
    good, broken = head(images["good"], SECTOR), head(images["no-bootloader"], SECTOR)
    assert broken[:440] == bytes(440) and any(good[:440])
    assert broken[440:] == good[440:]


def test_bad_root_points_at_no_partition(images: dict[str, Path]) -> None:
    bad = images["bad-root"]
    roots = [p for p in append(bad) if p.startswith("root=UUID=")]
    assert len(roots) == 1 and roots[0] != f"root=UUID={fs_uuid(bad)}"
    assert fs_uuid(bad) == fs_uuid(images["good"])  # the partition is the same; only the boot loader is wrong
    assert [p for p in append(bad) if p != roots[0]] == [p for p in append(images["good"]) if "UUID" not in p]


def test_no_init_lacks_init_and_systemd(images: dict[str, Path]) -> None:
    assert not exists(images["no-init"], "/usr/sbin/init")
    assert not exists(images["no-init"], "/usr/lib/systemd/systemd")
    assert exists(images["no-init"], "/usr/bin/sh")  # the initramfs falls back to it: a shell, not a panic


def test_no_sshd_lacks_the_server_only(images: dict[str, Path]) -> None:
    image = images["no-sshd"]
    assert not exists(image, "/usr/sbin/sshd")
    status = read(image, "/var/lib/dpkg/status")
    assert "Package: openssh-server\n" not in status and "Package: cloud-init\n" in status
    assert exists(image, "/usr/bin/cloud-init") and append(image) == append(images["good"])


def test_rootdelay_and_floor_change_only_the_kernel_parameters(images: dict[str, Path]) -> None:
    good = append(images["good"])
    assert append(images["rootdelay"]) == [*good, "rootdelay=20"]
    assert append(images["floor"]) == [*good, f"init={FLOOR_INIT}"]
    script = read(images["floor"], FLOOR_INIT)
    assert script.startswith("#!/bin/sh\n") and f"echo {FLOOR_LINE} > /dev/console" in script
    assert "sysrq-trigger" in script
    mode = re.search(r"Mode:\s+(\d+)", fs_run(images["floor"], f"stat {FLOOR_INIT}"))
    assert mode and int(mode.group(1), 8) & 0o111


@pytest.mark.parametrize("variant", bootable.VARIANTS)
def test_every_variant_file_system_is_clean(variant: str, images: dict[str, Path]) -> None:
    e2fsck = shutil.which("e2fsck", path=SBIN)
    assert e2fsck is not None
    done = subprocess.run([e2fsck, "-fn", f"{images[variant]}?offset={FS_OFFSET}"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout[-2000:]


def test_cached_images_are_reused(images: dict[str, Path]) -> None:
    before = images["good"].stat().st_mtime_ns
    assert bootable.build_bootable("good") == images["good"]
    assert images["good"].stat().st_mtime_ns == before
    assert bootable.recipe_key() in images["good"].name


def test_cache_location_and_bad_variant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFERFLOW_IMAGE_CACHE", str(tmp_path))
    assert bootable.cache_root() == tmp_path
    with pytest.raises(BuilderError, match="unknown variant"):
        bootable.build_bootable("nope")


def test_mirror_comes_from_the_apt_configuration(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text("deb [arch=amd64] http://mirror.invalid/d bookworm main contrib\n")
    (tmp_path / "sources.list.d/x.sources").write_text(
        "Types: deb\nURIs: http://security.invalid/s\nSuites: bookworm-security\nComponents: main\n"
        "Signed-By: /k.gpg\n\nTypes: deb-src\nURIs: http://src.invalid\nSuites: bookworm\nComponents: main\n")
    found = debian_sources("bookworm", tmp_path)
    assert found.mirror == "http://mirror.invalid/d"
    assert found.sources_list().splitlines() == [
        "deb http://mirror.invalid/d bookworm main",
        "deb [signed-by=/k.gpg] http://security.invalid/s bookworm-security main",
    ]
    with pytest.raises(BuilderError, match=r"no 'deb \.\.\. trixie main'"):
        debian_sources("trixie", tmp_path)
