"""Fixed VHD inspection: footer (Microsoft VHD Image Format Specification) and MBR (``mbr``).

Submitted images are tens of GiB, so every function reads a small, bounded
number of bytes at known offsets; nothing loads the whole image. ``check_vhd``
runs every footer and MBR rule; the MBR names are exported here too, so this
module stays the one entry point for VHD inspection.
"""

from __future__ import annotations

import os
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import BinaryIO, Final

from .findings import Finding, ImageError
from .mbr import (
    MIB,
    SECTOR_SIZE,
    TEST_MBR_FIRST_MIB,
    TEST_MBR_INSIDE_DISK,
    TEST_MBR_TABLE,
    Partition,
    check_mbr,
    first_mib_empty,
    parse_mbr,
)

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

FOOTER_SIZE: Final = 512
MIN_DISK_SIZE: Final = 20 * MIB
VHD_COOKIE: Final = b"conectix"

TEST_COOKIE: Final = "vhd.cookie"
TEST_CHECKSUM: Final = "vhd.checksum"
TEST_DISK_TYPE: Final = "vhd.disk_type"
TEST_MIN_SIZE: Final = "vhd.min_size"
TEST_SIZE_ALIGNMENT: Final = "vhd.size_alignment"
TEST_FILE_LENGTH: Final = "vhd.file_length"

_FOOTER = struct.Struct(">8sIIQI4sI4sQQHBBII16sB427s")
_CHECKSUM_SLICE = slice(64, 68)
_VHD_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


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
