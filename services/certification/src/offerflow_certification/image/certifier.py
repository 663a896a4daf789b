"""The certifier: format tests on the VHD, then OS tests inside it. The service and `offerflow certify` both
run this module, so a publisher's self-test is the marketplace's test."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from typing import BinaryIO, Final

from . import linux, windows
from .catalog import name_of
from .disk import LINUX_UNREAD, SECTOR, Region, lvm_volumes, probe
from .ext4 import Ext4
from .findings import Finding, ImageError, failed, judged, passed, warned
from .vhd import FOOTER_SIZE, MIB, VHD_COOKIE, Partition, check_vhd, first_mib_empty, parse_mbr, read_footer

CERTIFIER_VERSION: Final = "1.1.0"
GIB: Final = 1024 * MIB
_LINUX_TYPES: Final = {0x83}
_SWAP_TYPE: Final = 0x82
_EXTENDED_TYPES: Final = {0x05, 0x0F, 0x85}
# OS disk sizes by family (the marketplace's validation limits); data disks share the Linux maximum.
OS_DISK_LIMITS: Final[dict[str, tuple[int, int]]] = {"linux": (20 * MIB, 1023 * GIB),
                                                     "windows": (30 * GIB, 250 * GIB)}
DATA_DISK_MAX: Final = 1023 * GIB


@dataclass(frozen=True)
class Profile:
    """What the disk is for: the tests depend on it, so reuse of a report does too."""

    os_disk: bool = True
    approved_base: bool = False  # Linux images from an approved base skip the first-MiB rule

    @property
    def key(self) -> str:
        return "data" if not self.os_disk else ("os+approved-base" if self.approved_base else "os")


@dataclass
class OsResult:
    findings: list[Finding] = field(default_factory=list)
    family: str | None = None
    os_name: str | None = None
    kernel_version: str | None = None


def data_size(f: BinaryIO, file_size: int) -> int:
    """The disk's bytes: the declared size when the footer is trustworthy, never more than the file holds."""
    size = file_size - FOOTER_SIZE
    try:
        footer = read_footer(f, file_size)
    except ImageError:
        return max(0, size)
    if footer.cookie == VHD_COOKIE and footer.checksum_valid:
        size = min(size, footer.current_size)
    return max(0, size)


def format_tests(f: BinaryIO, file_size: int, profile: Profile) -> list[Finding]:
    findings = check_vhd(f, file_size)
    if not profile.os_disk:
        findings = [x for x in findings if not x.test_id.startswith("mbr.")]
        size = data_size(f, file_size)
        findings.append(judged("disk.size_limit", name_of("disk.size_limit"), size <= DATA_DISK_MAX,
                               _human(size), f"data disk <= {DATA_DISK_MAX // GIB} GiB"))
    return findings


def _size_limit(family: str, size: int) -> Finding:
    low, high = OS_DISK_LIMITS[family]
    return judged("disk.size_limit", name_of("disk.size_limit"), low <= size <= high, _human(size),
                  f"{family} OS disk of {_human(low)} to {_human(high)}")


def _human(n: int) -> str:
    return f"{n / GIB:g} GiB" if n >= GIB else f"{n / MIB:g} MiB"


def _partitions(disk: Region) -> list[tuple[Partition, Region]]:
    parts = parse_mbr(disk.read(0, SECTOR))
    return [(p, disk.sub(p.lba_start * SECTOR, p.sectors * SECTOR, f"partition {p.index}"))
            for p in parts if p.partition_type not in _EXTENDED_TYPES and p.lba_start * SECTOR < disk.length]


@dataclass(frozen=True)
class _Volume:
    where: str  # "partition 2", "LV rhel/root on partition 2"
    region: Region
    kind: str


def _volumes(parts: list[tuple[Partition, Region]]) -> tuple[list[_Volume], list[tuple[str, str]], list[str]]:
    """Every file system on the disk, LVM logical volumes included; with the (kind, where) not read and the errors."""
    volumes: list[_Volume] = []
    unread: list[tuple[str, str]] = []
    broken: list[str] = []
    for p, region in parts:
        pr = probe(region)
        where = f"partition {p.index}"
        if pr.kind != "lvm2":
            volumes.append(_Volume(where, region, pr.kind))
            continue
        try:
            lvs = lvm_volumes(region)
        except ImageError as exc:
            broken.append(f"{where} (LVM2): {exc.message}")
            continue
        for lv in lvs:
            if lv.region is None:
                unread.append(("LVM", f"{lv.label} on {where} ({lv.layout} layout)"))
            else:
                volumes.append(_Volume(f"{lv.label} on {where}", lv.region, probe(lv.region).kind))
        if not lvs:
            volumes.append(_Volume(f"{where} (LVM2 physical volume without logical volumes)", region, "unknown"))
    return volumes, unread, broken


def os_tests(f: BinaryIO, file_size: int, profile: Profile) -> OsResult:
    if not profile.os_disk:
        return OsResult()
    size = data_size(f, file_size)
    disk = Region(f, 0, size)
    try:
        parts = _partitions(disk)
    except ImageError as exc:
        return OsResult([failed("os.detected", name_of("os.detected"), f"no partition table: {exc.message}",
                                "a Linux or Windows root partition")])
    volumes, unread, broken = _volumes(parts)
    swap = [f"partition {p.index} (type 0x{p.partition_type:02x})" for p, _ in parts if p.partition_type == _SWAP_TYPE]
    swap += [f"{v.where} (swap signature)" for v in volumes if v.kind == "swap"]
    roots: list[tuple[str, Ext4]] = []
    for v in volumes:
        if v.kind != "ext":
            continue
        try:
            fs = Ext4(v.region)
            if fs.lookup("/etc") is not None:
                roots.append((v.where, fs))
        except ImageError as exc:
            broken.append(f"{v.where}: {exc.message}")
    unread = [(LINUX_UNREAD[v.kind], v.where) for v in volumes if v.kind in LINUX_UNREAD] + unread
    found = "; ".join(f"{kind} on {where}" for kind, where in unread)
    if roots:
        return _linux(f, size, profile, roots, swap, broken)
    if broken:
        why = "; ".join([*broken, found] if found else broken)
        return OsResult([failed("linux.filesystem", name_of("linux.filesystem"), why,
                                "a readable ext2/3/4 root file system")], family="linux")
    if unread:
        return _unread_linux(f, size, profile, found, sorted({kind for kind, _ in unread}), swap)
    windows_parts = [(v.region, v.kind) for v in volumes if v.kind in ("ntfs", "bitlocker")]
    if windows_parts:
        region, kind = windows.os_volume(windows_parts)  # not always the first: "System Reserved" precedes C:
        return OsResult([_size_limit("windows", size), *windows.run_checks(region, kind)], family="windows",
                        os_name="Windows")
    seen = "; ".join(f"{v.where}: {v.kind}" for v in volumes)
    return OsResult([failed("os.detected", name_of("os.detected"), seen or "no partition",
                            "a Linux (ext2/3/4) or Windows (NTFS) root partition")])


def _disk_level(f: BinaryIO, size: int, profile: Profile) -> list[Finding]:
    """The Linux OS-disk tests that need no file system: they run whatever the root is."""
    findings = [_size_limit("linux", size)]
    if not profile.approved_base:
        empty = first_mib_empty(f, size)
        findings.append(judged("disk.first_mib_empty", name_of("disk.first_mib_empty"), empty,
                               "empty" if empty else "data found between sector 1 and 1 MiB",
                               "bytes 512 to 1 MiB all zero (images from the publisher's own base)"))
    return findings


def _unread_linux(f: BinaryIO, size: int, profile: Profile, found: str, kinds: list[str],
                  swap: list[str]) -> OsResult:
    """A Linux root this certifier recognises but cannot read: every test that needs its files is a Warning
    saying so (never a pass); the disk-level tests and the swap partitions still count."""
    why = (f"{found}: the Linux tests cannot be run offline on {' or '.join(kinds)}; the staging boot still "
           "checks that the image boots, takes an SSH login and runs its agent; an ext4 root gets every test offline")
    findings = [warned("linux.filesystem", name_of("linux.filesystem"), why,
                       "a readable ext2/3/4 root file system (XFS, Btrfs and LVM are recognised, not read)"),
                *_disk_level(f, size, profile)]
    for test_id, _ in linux.CHECKS:
        if test_id == "linux.swap" and swap:
            findings.append(failed(test_id, name_of(test_id), "; ".join(swap), "no swap partition on the OS disk"))
        elif test_id == "linux.swap":
            findings.append(warned(test_id, name_of(test_id), f"no swap partition, swap LV or swap signature; "
                                   f"/etc/fstab not read ({found})", "no swap partition and no swap in /etc/fstab"))
        else:
            findings.append(warned(test_id, name_of(test_id), f"not run: {found} is not read offline",
                                   "a readable ext2/3/4 root file system"))
    return OsResult(findings, "linux")


def _linux(f: BinaryIO, size: int, profile: Profile, roots: list[tuple[str, Ext4]], swap: list[str],
           broken: list[str]) -> OsResult:
    fs = roots[0][1]
    findings = [passed("linux.filesystem", name_of("linux.filesystem"),
                       f"ext file system on {roots[0][0]}" + (f"; unreadable: {'; '.join(broken)}" if broken else ""),
                       "a readable ext2/3/4 root file system"), *_disk_level(f, size, profile)]
    context = linux.LinuxContext(fs, swap, [name for name, _ in roots])
    findings += linux.run_checks(context)
    try:
        kernel = linux.kernel_version(fs)
    except ImageError:
        kernel = None
    return OsResult(findings, "linux", linux.os_name(fs), kernel)


def sha256_stream(f: BinaryIO, chunk: int, max_bytes: int) -> tuple[str, int]:
    """Hash to the end without holding more than one chunk; past ``max_bytes`` the image is refused.

    A regular file's holes (a sparse fixed VHD is mostly holes) are hashed as the zeros they read as, without
    reading them: a 30 GiB Windows disk then costs its written extents plus the hashing of zeros."""
    try:
        fd = f.fileno()
        sparse = os.lseek(fd, 0, os.SEEK_CUR) == 0 and stat.S_ISREG(os.fstat(fd).st_mode)
    except (AttributeError, OSError, ValueError):
        sparse = False
    if sparse:
        return _sha256_sparse(fd, chunk, max_bytes)
    h, total = hashlib.sha256(), 0
    buf = bytearray(chunk)
    view = memoryview(buf)
    while n := f.readinto(view):  # type: ignore[attr-defined]
        total += n
        if total > max_bytes:
            raise ImageError(f"the image is over the limit of {max_bytes} bytes")
        h.update(view[:n])
    return h.hexdigest(), total


def _sha256_sparse(fd: int, chunk: int, max_bytes: int) -> tuple[str, int]:
    h, pos = hashlib.sha256(), 0
    zeros, view = memoryview(bytes(chunk)), memoryview(bytearray(chunk))
    size = os.fstat(fd).st_size
    if size > max_bytes:
        raise ImageError(f"the image is over the limit of {max_bytes} bytes")
    while pos < size:
        try:
            data = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError:  # ENXIO: only a hole is left
            data = size
        while pos < data:
            n = min(chunk, data - pos)
            h.update(zeros[:n])
            pos += n
        if pos >= size:
            break
        hole = os.lseek(fd, pos, os.SEEK_HOLE)
        while pos < hole:
            n = os.preadv(fd, [view[:min(chunk, hole - pos)]], pos)
            if n == 0:  # truncated while read: the caller compares what was read with the size
                return h.hexdigest(), pos
            h.update(view[:n])
            pos += n
    return h.hexdigest(), pos
