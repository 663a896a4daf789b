"""Windows OS tests on an NTFS OS volume, read offline with libfsntfs, pefile and regipy.

What needs the running VM (account and role dependencies, installed server software) is reported as a
Warning that says so, never as a pass; so is every file test on a BitLocker-encrypted volume, whose files
cannot be read at all.
"""

from __future__ import annotations

import os
import struct
import tempfile
import uuid
from collections.abc import Sequence
from typing import Any, Final

from .catalog import name_of
from .disk import Region
from .findings import Finding, ImageError, failed, judged, passed, warned

_KERNEL: Final = "\\Windows\\System32\\ntoskrnl.exe"
_SRV: Final = "\\Windows\\System32\\drivers\\srv.sys"
_SYSTEM_HIVE: Final = "\\Windows\\System32\\config\\SYSTEM"
_MAX_PE: Final = 64 * 1024 * 1024
_MAX_HIVE: Final = 256 * 1024 * 1024
_AMD64: Final = 0x8664
_PE32_PLUS: Final = 0x20B
_MACHINES: Final = {0x014C: "i386", 0x8664: "AMD64", 0x01C4: "ARMv7", 0xAA64: "ARM64", 0x0200: "IA-64"}
_PE_MAGICS: Final = {0x10B: "PE32", 0x20B: "PE32+"}
# Windows 7 and later write this GUID into a BitLocker volume's boot sector; Vista's layout lacks it.
_BITLOCKER_GUID: Final = uuid.UUID("4967d63b-2e29-4ad8-8399-f6a339e3d001").bytes_le
_FILE_TESTS: Final = ("windows.architecture", "windows.srv_sys", "windows.rdp")
# MS17-010 (WannaCry): first fixed srv.sys per OS, keyed by (major, minor, build).
SRV_MINIMUM: Final[dict[tuple[int, int, int], str]] = {
    (6, 0, 6002): "6.0.6002.19743",  # Server 2008
    (6, 1, 7601): "6.1.7601.23689",  # Server 2008 R2
    (6, 2, 9200): "6.2.9200.22099",  # Server 2012
    (6, 3, 9600): "6.3.9600.18604",  # Server 2012 R2
    (10, 0, 10240): "10.0.10240.17319",
    (10, 0, 10586): "10.0.10586.839",
    (10, 0, 14393): "10.0.14393.953",  # Server 2016
}
_FIRST_UNAFFECTED_BUILD: Final = 15063


class _VolumeFile:
    """The file-object protocol libfsntfs reads through, over a bounded `Region`."""

    def __init__(self, region: Region) -> None:
        self._region, self._pos = region, 0

    def read(self, size: int = -1) -> bytes:
        size = self._region.length - self._pos if size < 0 else min(size, self._region.length - self._pos)
        data = self._region.read(self._pos, max(0, size)) if size > 0 else b""
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        self._pos = {0: offset, 1: self._pos + offset, 2: self._region.length + offset}[whence]
        return self._pos

    def tell(self) -> int:
        return self._pos

    def get_size(self) -> int:
        return self._region.length


class NtfsVolume:
    def __init__(self, region: Region) -> None:
        import pyfsntfs

        self._volume: Any = pyfsntfs.volume()
        try:
            self._volume.open_file_object(_VolumeFile(region))
        except (OSError, ImageError) as exc:
            raise ImageError(f"the NTFS volume cannot be read: {exc}") from exc

    def exists(self, path: str) -> bool:
        try:
            return self._volume.get_file_entry_by_path(path) is not None
        except OSError as exc:
            raise ImageError(f"cannot look up {path}: {exc}") from exc

    def read(self, path: str, limit: int) -> bytes | None:
        try:
            entry = self._volume.get_file_entry_by_path(path)
        except OSError as exc:
            raise ImageError(f"cannot look up {path}: {exc}") from exc
        if entry is None:
            return None
        try:
            size = int(entry.get_size())
            if size > limit:
                raise ImageError(f"{path} is {size} bytes, over the {limit}-byte limit")
            return bytes(entry.read(size))
        except OSError as exc:
            raise ImageError(f"cannot read {path}: {exc}") from exc


def pe_machine(data: bytes) -> int | None:
    header = pe_header(data)
    return None if header is None else header[0]


def pe_header(data: bytes) -> tuple[int, int | None] | None:
    """(COFF machine, optional header magic) of a PE image; the magic is None when the header is cut short."""
    if data[:2] != b"MZ" or len(data) < 0x40:
        return None
    at = struct.unpack_from("<I", data, 0x3C)[0]
    if at + 6 > len(data) or data[at : at + 4] != b"PE\0\0":
        return None
    machine = int(struct.unpack_from("<H", data, at + 4)[0])
    # The optional header follows the 20-byte COFF header; its first word says PE32 (32-bit) or PE32+ (64-bit).
    magic = int(struct.unpack_from("<H", data, at + 24)[0]) if at + 26 <= len(data) else None
    return machine, magic


def describe_pe(machine: int, magic: int | None) -> str:
    kind = "no optional header" if magic is None else _PE_MAGICS.get(magic, f"optional header magic 0x{magic:x}")
    return f"{kind}, machine 0x{machine:04x} ({_MACHINES.get(machine, 'unknown')})"


def pe_version(data: bytes) -> str | None:
    import pefile

    try:
        pe = pefile.PE(data=data, fast_load=True)
        pe.parse_data_directories(directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_RESOURCE"]])
        info = pe.VS_FIXEDFILEINFO[0]
    except (pefile.PEFormatError, AttributeError, IndexError):
        return None
    ms, ls = info.FileVersionMS, info.FileVersionLS
    return f"{ms >> 16}.{ms & 0xFFFF}.{ls >> 16}.{ls & 0xFFFF}"


def srv_minimum(version: str) -> str | None:
    """'' when the OS build was never affected; None when the build is unknown."""
    major, minor, build = (int(p) for p in [*version.split("."), "0", "0", "0"][:3])
    if (major, minor) == (10, 0) and build >= _FIRST_UNAFFECTED_BUILD:
        return ""
    return SRV_MINIMUM.get((major, minor, build))


def check_architecture(vol: NtfsVolume) -> Finding:
    tid, required = "windows.architecture", "64-bit kernel (PE32+, machine 0x8664 AMD64)"
    kernel = vol.read(_KERNEL, _MAX_PE)
    if kernel is None:
        return failed(tid, name_of(tid), f"{_KERNEL} not found: no Windows installation", required)
    header = pe_header(kernel)
    if header is None:
        return failed(tid, name_of(tid), f"{_KERNEL} is not a PE image", required)
    machine, magic = header
    return judged(tid, name_of(tid), machine == _AMD64 and magic == _PE32_PLUS, describe_pe(machine, magic),
                  required)


def check_srv(vol: NtfsVolume) -> Finding:
    tid = "windows.srv_sys"
    if not vol.exists(_KERNEL):
        return failed(tid, name_of(tid), "no Windows installation found", "srv.sys absent or patched")
    data = vol.read(_SRV, _MAX_PE)
    if data is None:
        return passed(tid, name_of(tid), "srv.sys absent (SMBv1 server not installed)", "absent or patched")
    version = pe_version(data)
    if version is None:
        return failed(tid, name_of(tid), "srv.sys has no readable version resource", "a patched srv.sys")
    minimum = srv_minimum(version)
    if minimum is None:
        return warned(tid, name_of(tid), version, "no known minimum for this OS build: check it by hand")
    if minimum == "":
        return passed(tid, name_of(tid), version, f"build >= {_FIRST_UNAFFECTED_BUILD} (never affected)")
    ok = tuple(map(int, version.split("."))) >= tuple(map(int, minimum.split(".")))
    return judged(tid, name_of(tid), ok, version, f">= {minimum}")


def rdp_setting(hive_bytes: bytes) -> tuple[str, int | None]:
    """(the current control set's name, its fDenyTSConnections or None when unset) from a SYSTEM hive.

    Offline there is no CurrentControlSet link: Windows picks the set that ``Select\\Current`` names at boot.
    """
    from regipy.exceptions import RegistryKeyNotFoundException
    from regipy.registry import RegistryHive

    with tempfile.TemporaryDirectory(prefix="offerflow-hive-") as tmp:
        path = os.path.join(tmp, "SYSTEM")
        with open(path, "wb") as f:
            f.write(hive_bytes)
        hive: Any = RegistryHive(path)  # type: ignore[no-untyped-call]
        try:
            current = hive.get_key("\\Select").get_value("Current")
        except RegistryKeyNotFoundException:
            raise ImageError("the SYSTEM hive has no Select key: no current control set") from None
        if not isinstance(current, int) or not 1 <= current <= 999:
            raise ImageError(f"Select\\Current is {current!r}, not a control set number")
        control_set = f"ControlSet{current:03d}"
        try:
            key = hive.get_key(f"\\{control_set}\\Control\\Terminal Server")
        except RegistryKeyNotFoundException:
            raise ImageError(f"{control_set}\\Control\\Terminal Server not found (Select\\Current = {current})") \
                from None
        value = key.get_value("fDenyTSConnections")
        # Windows reads it as a REG_DWORD; a value of any other type counts as unset.
        return control_set, value if isinstance(value, int) else None


def check_rdp(vol: NtfsVolume) -> Finding:
    tid, required = "windows.rdp", "fDenyTSConnections = 0 in the current control set"
    hive = vol.read(_SYSTEM_HIVE, _MAX_HIVE)
    if hive is None:
        return failed(tid, name_of(tid), f"{_SYSTEM_HIVE} not found", required)
    try:
        control_set, denied = rdp_setting(hive)
    except ImageError as exc:
        return failed(tid, name_of(tid), exc.message, required)
    except Exception as exc:  # regipy raises parser errors of many types on a corrupted hive
        return failed(tid, name_of(tid), f"the SYSTEM hive cannot be read: {type(exc).__name__}: {exc}", required)
    if denied is None:
        return failed(tid, name_of(tid), f"fDenyTSConnections not set in {control_set} (Windows then denies RDP)",
                      required)
    return judged(tid, name_of(tid), denied == 0, f"fDenyTSConnections = {denied} in {control_set}", required)


def bitlocker_detail(region: Region) -> str:
    try:
        boot = region.read(0, 512)
    except ImageError as exc:
        return f"BitLocker volume (-FVE-FS-); boot sector unreadable: {exc.message}"
    layout = "Windows 7 or later" if boot[160:176] == _BITLOCKER_GUID else "Windows Vista layout"
    return f"BitLocker volume (-FVE-FS- boot sector, {layout})"


def os_volume(candidates: Sequence[tuple[Region, str]]) -> tuple[Region, str]:
    """The Windows volume among a disk's NTFS and BitLocker volumes ("ntfs" or "bitlocker" kinds).

    Windows Setup puts a small unencrypted "System Reserved" NTFS partition (boot manager, BCD) before C:, so the
    first NTFS volume is not always the OS: the one holding the kernel is; failing that an encrypted one, which
    is what C: looks like under BitLocker; failing that the first.
    """
    if not candidates:
        raise ValueError("no NTFS or BitLocker volume to choose from")
    for region, kind in candidates:
        if kind != "ntfs":
            continue
        try:
            if NtfsVolume(region).exists(_KERNEL):
                return region, kind
        except ImageError:
            continue
    encrypted = [c for c in candidates if c[1] == "bitlocker"]
    return encrypted[0] if encrypted else candidates[0]


def run_checks(region: Region, kind: str) -> list[Finding]:
    offline = warned("windows.offline_limits", name_of("windows.offline_limits"),
                     "not checked: these tests need the running VM", "submit the Certification Test Tool report")
    if kind == "bitlocker":
        # Its one defect is the encryption: the other tests are not failed, they cannot be judged (a Warning).
        return [failed("windows.bitlocker", name_of("windows.bitlocker"), bitlocker_detail(region),
                       "an unencrypted NTFS OS volume")] + [
            warned(t, name_of(t), "not checked: the volume is BitLocker-encrypted, its files cannot be read",
                   "an unencrypted volume to read") for t in _FILE_TESTS] + [offline]
    out = [passed("windows.bitlocker", name_of("windows.bitlocker"), "NTFS volume, not encrypted",
                  "an unencrypted NTFS OS volume")]
    try:
        vol = NtfsVolume(region)
    except ImageError as exc:
        return out + [failed(t, name_of(t), exc.message, "a readable NTFS volume")
                      for t in _FILE_TESTS] + [offline]
    for tid, check in zip(_FILE_TESTS, (check_architecture, check_srv, check_rdp), strict=True):
        try:
            out.append(check(vol))
        except (ImageError, ValueError, struct.error) as exc:
            why = exc.message if isinstance(exc, ImageError) else f"{type(exc).__name__}: {exc}"
            out.append(failed(tid, name_of(tid), why, "a readable NTFS volume"))
    return [*out, offline]
