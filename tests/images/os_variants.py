"""OS-level test images: one real disk per failing certification test, built from the compliant one.

Each variant changes only what its test looks at (a file of the root tree, a partition, a few bytes),
so a variant failing any other test is a bug in the certifier or in the variant.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from tests.images import builder as b
from tests.images.ext4 import make_ext4
from tests.images.linux_tree import elf64_header, merge_tree, write_tree
from tests.images.packages import JAMMY_REGRESSHION, dpkg_status

ELF_AARCH64: Final = 0xB7
_PART = struct.Struct("<B3sB3sII")


def _elf(machine: int) -> bytes:
    header = bytearray(elf64_header(e_type=3))
    struct.pack_into("<H", header, 18, machine)
    return bytes(header)


def _patch(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def write_mbr(path: Path, entries: list[tuple[int, int, int]]) -> None:
    """Replace the partition table with (type, start LBA, sectors) entries; slot 1 is bootable."""
    sector = bytearray(b.SECTOR)
    for slot, (ptype, start, count) in enumerate(entries):
        sector[446 + 16 * slot : 462 + 16 * slot] = _PART.pack(0x80 if slot == 0 else 0, b"\xfe\xff\xff", ptype,
                                                               b"\xfe\xff\xff", start, count)
    sector[510:512] = b"\x55\xaa"
    _patch(path, 0, bytes(sector))


def _ext4_partition(disk: Path, start_lba: int, sectors: int, tree: Mapping[str, bytes | None] | None) -> None:
    with tempfile.TemporaryDirectory(prefix="offerflow-vhd-") as tmp:
        root = Path(tmp) / "root"
        paths = write_tree(root, merge_tree(tree))
        make_ext4(disk, root, start_lba * b.SECTOR, sectors * b.SECTOR // 4096 * 4096, paths)


def build_two_partitions(path: Path, second_type: int, second: Callable[[Path, int, int], None]) -> Path:
    """A 64 MiB disk: the compliant root at 1 MiB and a second partition from 33 MiB."""
    size = 64 * b.MIB
    b.build_disk(path, disk_size=size, partition_sectors=32 * b.MIB // b.SECTOR - 2048)
    first = (0x83, 2048, 32 * b.MIB // b.SECTOR - 2048)
    start = 33 * b.MIB // b.SECTOR
    count = size // b.SECTOR - start
    second(path, start, count)
    write_mbr(path, [first, (second_type, start, count)])
    return path


def _swap_area(path: Path, start: int, count: int) -> None:
    _patch(path, start * b.SECTOR + 4096 - 10, b"SWAPSPACE2")


def _second_root(path: Path, start: int, count: int) -> None:
    _ext4_partition(path, start, count, None)


def _tool(name: str) -> str:
    found = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if found is None:
        raise b.BuilderError(f"{name} not found: install ntfs-3g (scripts/install does)")
    return found


def build_ntfs(path: Path, *, size_mib: int = 32, bitlocker: bool = False) -> Path:
    """A fixed VHD whose one partition (type 0x07) is an empty NTFS volume made by mkntfs (no root needed).

    mkntfs cannot add directories, so the volume has no Windows installation: it exercises NTFS detection,
    the BitLocker test and the "no Windows found" failures, not the passing paths of the file-based tests.
    """
    size = size_mib * b.MIB
    sectors = size // b.SECTOR - 2048
    path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="offerflow-ntfs-") as tmp:
        volume = Path(tmp) / "ntfs.img"
        with open(volume, "wb") as f:
            f.truncate(sectors * b.SECTOR)
        subprocess.run([_tool("mkntfs"), "-F", "-Q", "-q", "-s", "512", "-p", "2048", "-H", "255", "-S", "63",
                        "-L", "Windows", str(volume)], check=True, capture_output=True)
        with open(path, "wb") as out, open(volume, "rb") as src:
            out.truncate(size)
            out.seek(2048 * b.SECTOR)
            shutil.copyfileobj(src, out, 1 << 20)
    write_mbr(path, [(0x07, 2048, sectors)])
    if bitlocker:
        _patch(path, 2048 * b.SECTOR + 3, b"-FVE-FS-")
    with open(path, "ab") as f:
        f.write(b.vhd_footer(size))
    return path


def _tree(overrides: Mapping[str, bytes | None]) -> Callable[[Path], Path]:
    return lambda p: b.build_linux_vhd(p, tree_overrides=overrides)


def _patched(offset: int, data: bytes) -> Callable[[Path], Path]:
    def make(p: Path) -> Path:
        b.build_linux_vhd(p)
        _patch(p, offset, data)
        return p
    return make


_VERSION_PY = "/usr/lib/python3/dist-packages/azurelinuxagent/common/version.py"
_FS = 2048 * b.SECTOR

# name → (builder, the test ids it must fail and nothing else)
OS_VARIANTS: Final[dict[str, tuple[Callable[[Path], Path], set[str]]]] = {
    "bash-history": (_tree({"/root/.bash_history": b"sudo cat /etc/shadow\n" * 60}), {"linux.bash_history"}),
    "old-agent": (_tree({_VERSION_PY: b"AGENT_VERSION = '2.2.40'\n"}), {"linux.agent_version"}),
    "no-agent": (_tree({"/usr/sbin/waagent": None}), {"linux.agent_version"}),
    "kernel-parameters": (_tree({"/etc/default/grub": b'GRUB_CMDLINE_LINUX="quiet splash"\n'}),
                          {"linux.kernel_parameters"}),
    "swap-in-fstab": (_tree({"/etc/fstab": b"LABEL=cloudimg-rootfs / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n"}),
                      {"linux.swap"}),
    "swap-partition": (lambda p: build_two_partitions(p, 0x82, _swap_area), {"linux.swap"}),
    "two-roots": (lambda p: build_two_partitions(p, 0x83, _second_root), {"linux.root_partition"}),
    "old-openssl": (_tree({"/usr/lib/x86_64-linux-gnu/libssl.so.3": b"\x7fELF OpenSSL 0.9.7a 19 Feb 2003\0",
                           "/usr/include/openssl/opensslv.h": None}), {"linux.openssl"}),
    "no-openssl": (_tree({"/usr/lib/x86_64-linux-gnu/libssl.so.3": None, "/usr/include/openssl/opensslv.h": None}),
                   {"linux.openssl"}),
    "no-python": (_tree({"/usr/bin/python3": None}), {"linux.python"}),
    "client-alive": (_tree({"/etc/ssh/sshd_config": b"ClientAliveInterval 600\n"}), {"linux.client_alive_interval"}),
    "arm64": (_tree({"/usr/bin/bash": _elf(ELF_AARCH64)}), {"linux.architecture"}),
    "auto-update-off": (_tree({"/etc/waagent.conf": b"AutoUpdate.Enabled=n\n"}), {"linux.auto_update"}),
    "unpatched-kernel": (_tree({f"/boot/vmlinuz-{b.KERNEL_VERSION}": None,
                                "/boot/vmlinuz-4.15.0-50-generic": b"kernel"}), {"linux.kernel_version"}),
    "vulnerable-openssh": (_tree({"/var/lib/dpkg/status": dpkg_status(JAMMY_REGRESSHION)}),
                           {"linux.security_threats"}),
    "password-hash": (_tree({"/etc/shadow": b"root:$6$salt$hash:19769:0:99999:7:::\n"}),
                      {"linux.default_credentials"}),
    "authorized-keys": (_tree({"/root/.ssh/authorized_keys": b"ssh-ed25519 AAAAC3Nza builder@host\n"}),
                        {"linux.default_credentials"}),
    "host-keys": (_tree({"/etc/ssh/ssh_host_ed25519_key": b"-----BEGIN OPENSSH PRIVATE KEY-----\n"}),
                  {"linux.generalized"}),
    "machine-id": (_tree({"/etc/machine-id": b"0123456789abcdef0123456789abcdef\n"}), {"linux.generalized"}),
    "first-mib-data": (_patched(4096, b"GRUB core image"), {"disk.first_mib_empty"}),
    "gpt": (_patched(446 + 4, b"\xee"), {"mbr.partition_table", "mbr.first_mib_free"}),
    # The group descriptor table is overwritten: every inode lookup points past the disk.
    "corrupted-filesystem": (_patched(_FS + 4096, b"\xff" * 4096), {"linux.filesystem"}),
    "no-filesystem": (_patched(_FS + 1024 + 0x38, b"\0\0"), {"os.detected"}),
    # Encrypted, its files cannot be read: the file tests are Warnings, the BitLocker test the one Windows failure.
    "bitlocker": (lambda p: build_ntfs(p, bitlocker=True), {"disk.size_limit", "windows.bitlocker"}),
    "ntfs-empty": (lambda p: build_ntfs(p), {"disk.size_limit", "windows.architecture", "windows.srv_sys",
                                             "windows.rdp"}),
}


def build_os_variant(path: str | os.PathLike[str], name: str) -> Path:
    try:
        make, _ = OS_VARIANTS[name]
    except KeyError:
        raise b.BuilderError(f"unknown OS variant {name!r}; choose from {', '.join(OS_VARIANTS)}") from None
    return make(Path(path))
