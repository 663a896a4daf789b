"""Fixed VHD inspection: footer (Microsoft VHD Image Format Specification) and MBR.

Submitted images are tens of GiB, so every function reads a small, bounded
number of bytes at known offsets; nothing loads the whole image.
"""

from __future__ import annotations

import os
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import BinaryIO, Final

from .findings import Finding, ImageError

__all__ = [
    "FOOTER_SIZE",
    "MIB",
    "MIN_DISK_SIZE",
    "SECTOR_SIZE",
    "TEST_CHECKSUM",
    "TEST_COOKIE",
    "TEST_DISK_TYPE",
    "TEST_FILE_LENGTH",
    "TEST_MBR_FIRST_MIB",
    "TEST_MBR_INSIDE_DISK",
    "TEST_MBR_TABLE",
    "TEST_MIN_SIZE",
    "TEST_SIZE_ALIGNMENT",
    "VHD_COOKIE",
    "DiskType",
    "Finding",
    "ImageError",
    "Partition",
    "VhdFooter",
    "check_footer",
    "check_mbr",
    "check_vhd",
    "check_vhd_file",
    "first_mib_empty",
    "footer_checksum",
    "parse_footer",
    "parse_mbr",
    "read_footer",
]

SECTOR_SIZE: Final = 512
FOOTER_SIZE: Final = 512
MIB: Final = 1024 * 1024
MIN_DISK_SIZE: Final = 20 * MIB
VHD_COOKIE: Final = b"conectix"
# Partitions aligned at 1 MiB leave the first 2048 sectors to the MBR alone.
FIRST_DATA_LBA: Final = MIB // SECTOR_SIZE

TEST_COOKIE: Final = "vhd.cookie"
TEST_CHECKSUM: Final = "vhd.checksum"
TEST_DISK_TYPE: Final = "vhd.disk_type"
TEST_MIN_SIZE: Final = "vhd.min_size"
TEST_SIZE_ALIGNMENT: Final = "vhd.size_alignment"
TEST_FILE_LENGTH: Final = "vhd.file_length"
TEST_MBR_TABLE: Final = "mbr.partition_table"
TEST_MBR_INSIDE_DISK: Final = "mbr.partitions_inside_disk"
TEST_MBR_FIRST_MIB: Final = "mbr.first_mib_free"

_FOOTER = struct.Struct(">8sIIQI4sI4sQQHBBII16sB427s")
_CHECKSUM_SLICE = slice(64, 68)
_VHD_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

_MBR_SIGNATURE = b"\x55\xaa"
_MBR_TABLE_OFFSET = 446
_MBR_ENTRY = struct.Struct("<B3sB3sII")
_GPT_PROTECTIVE_TYPE = 0xEE

_READ_CHUNK = 64 * 1024


class DiskType(IntEnum):
    NONE = 0
    FIXED = 2
    DYNAMIC = 3
    DIFFERENCING = 4


def describe_disk_type(value: int) -> str:
    try:
        return f"{DiskType(value).name.lower()} ({value})"
    except ValueError:
        return f"unknown ({value})"


@dataclass(frozen=True, slots=True)
class VhdFooter:
    """Decoded VHD footer; fields are kept raw so reports can show what was found."""

    cookie: bytes
    features: int
    format_version: int
    data_offset: int
    timestamp: int
    creator_application: bytes
    creator_version: int
    creator_host_os: bytes
    original_size: int
    current_size: int
    cylinders: int
    heads: int
    sectors_per_track: int
    disk_type: int
    checksum: int
    unique_id: uuid.UUID
    saved_state: int
    computed_checksum: int

    @property
    def checksum_valid(self) -> bool:
        return self.checksum == self.computed_checksum

    @property
    def created_at(self) -> datetime:
        return _VHD_EPOCH + timedelta(seconds=self.timestamp)


def footer_checksum(raw: bytes) -> int:
    """One's complement of the byte sum of a footer, its checksum field excluded."""
    if len(raw) != FOOTER_SIZE:
        raise ValueError(f"a VHD footer is {FOOTER_SIZE} bytes, got {len(raw)}")
    total = sum(raw) - sum(raw[_CHECKSUM_SLICE])
    return ~total & 0xFFFFFFFF


def parse_footer(raw: bytes) -> VhdFooter:
    """Decode 512 footer bytes; never judges them, `check_footer` does."""
    if len(raw) != FOOTER_SIZE:
        raise ImageError(f"VHD footer must be {FOOTER_SIZE} bytes, got {len(raw)}")
    (
        cookie,
        features,
        format_version,
        data_offset,
        timestamp,
        creator_application,
        creator_version,
        creator_host_os,
        original_size,
        current_size,
        cylinders,
        heads,
        sectors_per_track,
        disk_type,
        checksum,
        unique_id,
        saved_state,
        _reserved,
    ) = _FOOTER.unpack(raw)
    return VhdFooter(
        cookie=cookie,
        features=features,
        format_version=format_version,
        data_offset=data_offset,
        timestamp=timestamp,
        creator_application=creator_application,
        creator_version=creator_version,
        creator_host_os=creator_host_os,
        original_size=original_size,
        current_size=current_size,
        cylinders=cylinders,
        heads=heads,
        sectors_per_track=sectors_per_track,
        disk_type=disk_type,
        checksum=checksum,
        unique_id=uuid.UUID(bytes=unique_id),
        saved_state=saved_state,
        computed_checksum=footer_checksum(raw),
    )


def read_footer(f: BinaryIO, file_size: int) -> VhdFooter:
    """Read the footer from the last 512 bytes of a fixed VHD."""
    if file_size < FOOTER_SIZE:
        raise ImageError(f"file is {file_size} bytes, shorter than the {FOOTER_SIZE}-byte VHD footer")
    return parse_footer(_read_exact(f, file_size - FOOTER_SIZE, FOOTER_SIZE))


def check_footer(footer: VhdFooter, file_size: int) -> list[Finding]:
    size = footer.current_size
    expected_length = size + FOOTER_SIZE
    return [
        Finding(
            TEST_COOKIE,
            "VHD footer cookie",
            footer.cookie == VHD_COOKIE,
            _show_bytes(footer.cookie),
            _show_bytes(VHD_COOKIE),
        ),
        Finding(
            TEST_CHECKSUM,
            "VHD footer checksum",
            footer.checksum_valid,
            f"0x{footer.checksum:08x}",
            f"0x{footer.computed_checksum:08x} (one's complement of the footer byte sum)",
        ),
        Finding(
            TEST_DISK_TYPE,
            "VHD disk type",
            footer.disk_type == DiskType.FIXED,
            describe_disk_type(footer.disk_type),
            describe_disk_type(DiskType.FIXED),
        ),
        Finding(
            TEST_MIN_SIZE,
            "Virtual disk size",
            size >= MIN_DISK_SIZE,
            _show_size(size),
            f">= {_show_size(MIN_DISK_SIZE)}",
        ),
        Finding(
            TEST_SIZE_ALIGNMENT,
            "Virtual disk size alignment",
            size % MIB == 0,
            _show_size(size),
            "a whole number of MiB",
        ),
        Finding(
            TEST_FILE_LENGTH,
            "VHD file length",
            file_size == expected_length,
            f"{file_size} bytes",
            f"{expected_length} bytes (virtual size + {FOOTER_SIZE}-byte footer)",
        ),
    ]


@dataclass(frozen=True, slots=True)
class Partition:
    """One used MBR primary entry; `index` is its slot, 1 to 4."""

    index: int
    partition_type: int
    bootable: bool
    lba_start: int
    sectors: int

    @property
    def lba_end(self) -> int:
        """First sector after the partition."""
        return self.lba_start + self.sectors


def parse_mbr(first_sector: bytes) -> list[Partition]:
    """Used primary partitions of an MBR; empty slots (type 0) are skipped."""
    if len(first_sector) < SECTOR_SIZE:
        raise ImageError(f"MBR needs {SECTOR_SIZE} bytes, got {len(first_sector)}")
    signature = first_sector[510:512]
    if signature != _MBR_SIGNATURE:
        raise ImageError(f"no MBR boot signature: found 0x{signature.hex()}, need 0x55aa")
    partitions = []
    for slot in range(4):
        status, _chs_first, ptype, _chs_last, lba_start, sectors = _MBR_ENTRY.unpack_from(
            first_sector, _MBR_TABLE_OFFSET + slot * _MBR_ENTRY.size
        )
        if ptype == 0:
            continue
        partitions.append(Partition(slot + 1, ptype, status == 0x80, lba_start, sectors))
    return partitions


def check_mbr(first_sector: bytes, disk_size: int) -> list[Finding]:
    """MBR rules against the bytes of the disk actually available; never raises."""
    try:
        partitions = parse_mbr(first_sector)
    except ImageError as exc:
        return _mbr_unusable(exc.message)
    if not partitions:
        return _mbr_unusable("MBR has no partitions")
    gpt = any(p.partition_type == _GPT_PROTECTIVE_TYPE for p in partitions)
    table = Finding(
        TEST_MBR_TABLE,
        "MBR partition table",
        not gpt,
        "protective MBR of a GPT disk (generation 2)" if gpt
        else f"boot signature 0x55aa, {len(partitions)} partition(s)",
        _MBR_TABLE_REQUIRED,
    )
    return [table, _inside_disk(partitions, disk_size), _first_mib_free(partitions)]


_MBR_TABLE_REQUIRED: Final = "an MBR (generation 1): boot signature 0x55aa and at least one partition"
_INSIDE_REQUIRED: Final = "every partition ends within the disk"
_FIRST_MIB_REQUIRED: Final = f"every partition starts at or after sector {FIRST_DATA_LBA} (1 MiB)"


def _mbr_unusable(reason: str) -> list[Finding]:
    return [
        Finding(TEST_MBR_TABLE, "MBR partition table", False, reason, _MBR_TABLE_REQUIRED),
        Finding(TEST_MBR_INSIDE_DISK, "Partitions inside disk", False, reason, _INSIDE_REQUIRED),
        Finding(TEST_MBR_FIRST_MIB, "First MiB free of partitions", False, reason, _FIRST_MIB_REQUIRED),
    ]


def _inside_disk(partitions: Sequence[Partition], disk_size: int) -> Finding:
    disk_sectors = disk_size // SECTOR_SIZE
    outside = [p for p in partitions if p.sectors == 0 or p.lba_end > disk_sectors]
    actual = (
        "; ".join(
            f"partition {p.index}: sectors {p.lba_start}..{p.lba_end - 1} (disk has {disk_sectors} sectors)"
            if p.sectors
            else f"partition {p.index}: zero length"
            for p in outside
        )
        or f"all {len(partitions)} partition(s) within {disk_sectors} sectors"
    )
    return Finding(TEST_MBR_INSIDE_DISK, "Partitions inside disk", not outside, actual, _INSIDE_REQUIRED)


def _first_mib_free(partitions: Sequence[Partition]) -> Finding:
    # A protective MBR's entry starts at sector 1 by design; the real layout lives
    # in the GPT, which is not inspected here, so the rule cannot pass on trust.
    if any(p.partition_type == _GPT_PROTECTIVE_TYPE for p in partitions):
        actual = "GPT disk (protective MBR); GPT entries are not inspected"
        passed = False
    else:
        early = [p for p in partitions if p.lba_start < FIRST_DATA_LBA]
        passed = not early
        actual = (
            "; ".join(f"partition {p.index} starts at sector {p.lba_start}" for p in early)
            or f"first partition starts at sector {min(p.lba_start for p in partitions)}"
        )
    return Finding(TEST_MBR_FIRST_MIB, "First MiB free of partitions", passed, actual, _FIRST_MIB_REQUIRED)


def first_mib_empty(f: BinaryIO, disk_size: int | None = None) -> bool:
    """Whether every byte after the MBR sector up to 1 MiB is zero.

    A raw byte test, stricter than the `mbr.first_mib_free` rule: a BIOS GRUB
    install legitimately embeds its core image in this gap, so certification
    judges the partition layout and this helper only describes the bytes.
    Bytes beyond `disk_size` (or the end of the file) do not exist and so
    count as empty.
    """
    end = MIB if disk_size is None else min(MIB, disk_size)
    offset = SECTOR_SIZE
    try:
        f.seek(offset)
        while offset < end:
            chunk = f.read(min(_READ_CHUNK, end - offset))
            if not chunk:
                break
            if chunk.count(0) != len(chunk):
                return False
            offset += len(chunk)
    except OSError as exc:
        raise ImageError(f"cannot read the first MiB: {exc}") from exc
    return True


def check_vhd(f: BinaryIO, file_size: int) -> list[Finding]:
    """All footer and MBR findings for an open fixed VHD.

    Raises `ImageError` only when not even the footer can be read.
    """
    footer = read_footer(f, file_size)
    findings = check_footer(footer, file_size)
    data_size = file_size - FOOTER_SIZE
    # The declared size only narrows the disk when the footer is trustworthy;
    # a garbage footer (e.g. a truncated upload) must not hide a readable MBR.
    if footer.cookie == VHD_COOKIE and footer.checksum_valid:
        data_size = min(data_size, footer.current_size)
    first_sector = _read_exact(f, 0, min(SECTOR_SIZE, data_size)) if data_size > 0 else b""
    findings.extend(check_mbr(first_sector, data_size))
    return findings


def check_vhd_file(path: str | os.PathLike[str]) -> list[Finding]:
    try:
        with open(path, "rb") as f:
            return check_vhd(f, os.fstat(f.fileno()).st_size)
    except OSError as exc:
        raise ImageError(f"cannot open image {os.fspath(path)!r}: {exc}") from exc


def _read_exact(f: BinaryIO, offset: int, size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    try:
        f.seek(offset)
        while remaining:
            chunk = f.read(remaining)
            if not chunk:
                break
            parts.append(chunk)
            remaining -= len(chunk)
    except OSError as exc:
        raise ImageError(f"cannot read {size} bytes at offset {offset}: {exc}") from exc
    if remaining:
        raise ImageError(f"file ended after {size - remaining} of {size} bytes at offset {offset}")
    return b"".join(parts)


def _show_bytes(value: bytes) -> str:
    shown = "".join(chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}" for b in value)
    return f'"{shown}"'


def _show_size(size: int) -> str:
    return f"{size} bytes ({size / MIB:.2f} MiB)"
