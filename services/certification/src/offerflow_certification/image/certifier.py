"""The certifier: format tests on the VHD, then OS tests inside it. The service and `offerflow certify` both
run this module, so a publisher's self-test is the marketplace's test."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import BinaryIO, Final

from . import linux, windows
from .catalog import name_of
from .disk import SECTOR, Region, probe
from .ext4 import Ext4
from .findings import Finding, ImageError, failed, judged, passed
from .vhd import FOOTER_SIZE, MIB, VHD_COOKIE, Partition, check_vhd, first_mib_empty, parse_mbr, read_footer

CERTIFIER_VERSION: Final = "1.0.0"
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
    probes = [(p, region, probe(region)) for p, region in parts]
    swap = [f"partition {p.index} (type 0x{p.partition_type:02x}{', swap signature' if pr.kind == 'swap' else ''})"
            for p, _, pr in probes if p.partition_type == _SWAP_TYPE or pr.kind == "swap"]
    roots: list[tuple[str, Ext4]] = []
    broken: list[str] = []
    for p, region, pr in probes:
        if pr.kind != "ext":
            continue
        try:
            fs = Ext4(region)
            if fs.lookup("/etc") is not None:
                roots.append((f"partition {p.index}", fs))
        except ImageError as exc:
            broken.append(f"partition {p.index}: {exc.message}")
    if roots:
        return _linux(f, size, profile, roots, swap, broken)
    if broken:
        return OsResult([failed("linux.filesystem", name_of("linux.filesystem"), "; ".join(broken),
                                "a readable ext2/3/4 root file system")], family="linux")
    windows_parts = [(region, pr.kind) for _, region, pr in probes if pr.kind in ("ntfs", "bitlocker")]
    if windows_parts:
        region, kind = windows_parts[0]
        return OsResult([_size_limit("windows", size), *windows.run_checks(region, kind)], family="windows",
                        os_name="Windows")
    seen = "; ".join(f"partition {p.index}: type 0x{p.partition_type:02x}, {pr.kind}" for p, _, pr in probes)
    return OsResult([failed("os.detected", name_of("os.detected"), seen or "no partition",
                            "a Linux (ext2/3/4) or Windows (NTFS) root partition")])


def _linux(f: BinaryIO, size: int, profile: Profile, roots: list[tuple[str, Ext4]], swap: list[str],
           broken: list[str]) -> OsResult:
    fs = roots[0][1]
    findings = [passed("linux.filesystem", name_of("linux.filesystem"),
                       f"ext file system on {roots[0][0]}" + (f"; unreadable: {'; '.join(broken)}" if broken else ""),
                       "a readable ext2/3/4 root file system"), _size_limit("linux", size)]
    if not profile.approved_base:
        empty = first_mib_empty(f, size)
        findings.append(judged("disk.first_mib_empty", name_of("disk.first_mib_empty"), empty,
                               "empty" if empty else "data found between sector 1 and 1 MiB",
                               "bytes 512 to 1 MiB all zero (images from the publisher's own base)"))
    context = linux.LinuxContext(fs, swap, [name for name, _ in roots])
    findings += linux.run_checks(context)
    try:
        kernel = linux.kernel_version(fs)
    except ImageError:
        kernel = None
    return OsResult(findings, "linux", linux.os_name(fs), kernel)


def sha256_stream(f: BinaryIO, chunk: int, max_bytes: int) -> tuple[str, int]:
    """Hash to the end without holding more than one chunk; past ``max_bytes`` the image is refused."""
    h, total = hashlib.sha256(), 0
    buf = bytearray(chunk)
    view = memoryview(buf)
    while n := f.readinto(view):  # type: ignore[attr-defined]
        total += n
        if total > max_bytes:
            raise ImageError(f"the image is over the limit of {max_bytes} bytes")
        h.update(view[:n])
    return h.hexdigest(), total
