"""MBR inspection of a fixed disk image: the partition table and the first MiB.

Only the first sector and at most the first MiB are read, in bounded chunks; the footer and the whole
image are ``vhd``'s concern.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO, Final

from .findings import Finding, ImageError

SECTOR_SIZE: Final = 512
MIB: Final = 1024 * 1024
# Partitions aligned at 1 MiB leave the first 2048 sectors to the MBR alone.
FIRST_DATA_LBA: Final = MIB // SECTOR_SIZE

TEST_MBR_TABLE: Final = "mbr.partition_table"
TEST_MBR_INSIDE_DISK: Final = "mbr.partitions_inside_disk"
TEST_MBR_FIRST_MIB: Final = "mbr.first_mib_free"

_MBR_SIGNATURE = b"\x55\xaa"
_MBR_TABLE_OFFSET = 446
_MBR_ENTRY = struct.Struct("<B3sB3sII")
_GPT_PROTECTIVE_TYPE = 0xEE

_READ_CHUNK = 64 * 1024


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
