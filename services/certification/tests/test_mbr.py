"""MBR inspection: the partition table rules and the first-MiB helper, on hand-made sectors and a real image."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest

from offerflow_certification.image.findings import ImageError
from offerflow_certification.image.mbr import (
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
from tests.images.findings import by_id, failed_ids

SIZE = 32 * MIB


def test_mbr_of_compliant_image(compliant: Path) -> None:
    with open(compliant, "rb") as f:
        partitions = parse_mbr(f.read(SECTOR_SIZE))
        assert first_mib_empty(f)
    assert partitions == [Partition(1, 0x83, True, 2048, SIZE // SECTOR_SIZE - 2048)]
    assert partitions[0].lba_end == SIZE // SECTOR_SIZE


# --------------------------------------------------------------------------- MBR unit


def _mbr(*entries: tuple[int, int, int, int]) -> bytes:
    sector = bytearray(SECTOR_SIZE)
    for slot, (status, ptype, start, count) in enumerate(entries):
        struct.pack_into("<B3sB3sII", sector, 446 + 16 * slot, status, b"", ptype, b"", start, count)
    sector[510:512] = b"\x55\xaa"
    return bytes(sector)


def test_parse_mbr_skips_empty_slots() -> None:
    sector = _mbr((0, 0, 0, 0), (0x80, 0x83, 2048, 100), (0, 0, 0, 0), (0, 0x82, 4096, 50))
    assert parse_mbr(sector) == [
        Partition(2, 0x83, True, 2048, 100),
        Partition(4, 0x82, False, 4096, 50),
    ]


def test_parse_mbr_rejects_bad_input() -> None:
    with pytest.raises(ImageError, match="needs 512 bytes"):
        parse_mbr(b"\x55\xaa")
    with pytest.raises(ImageError, match="no MBR boot signature"):
        parse_mbr(bytes(SECTOR_SIZE))


def test_check_mbr_never_raises_on_short_input() -> None:
    findings = check_mbr(b"", 0)
    assert failed_ids(findings) == {TEST_MBR_TABLE, TEST_MBR_INSIDE_DISK, TEST_MBR_FIRST_MIB}


def test_check_mbr_without_partitions() -> None:
    findings = check_mbr(_mbr(), SIZE)
    assert by_id(findings)[TEST_MBR_TABLE].actual == "MBR has no partitions"
    assert failed_ids(findings) == {TEST_MBR_TABLE, TEST_MBR_INSIDE_DISK, TEST_MBR_FIRST_MIB}


def test_zero_length_partition_is_not_inside_the_disk() -> None:
    findings = by_id(check_mbr(_mbr((0x80, 0x83, 2048, 0)), SIZE))
    assert not findings[TEST_MBR_INSIDE_DISK].passed
    assert findings[TEST_MBR_INSIDE_DISK].actual == "partition 1: zero length"


def test_gpt_protective_mbr_is_not_trusted_for_the_first_mib() -> None:
    findings = by_id(check_mbr(_mbr((0, 0xEE, 1, SIZE // SECTOR_SIZE - 1)), SIZE))
    assert not findings[TEST_MBR_TABLE].passed  # generation 2 is refused
    assert "generation 2" in findings[TEST_MBR_TABLE].actual
    assert findings[TEST_MBR_INSIDE_DISK].passed
    assert not findings[TEST_MBR_FIRST_MIB].passed
    assert "GPT" in findings[TEST_MBR_FIRST_MIB].actual


# ------------------------------------------------------------------- first MiB helper


def test_first_mib_empty_looks_past_the_mbr_only(compliant: Path, tmp_path: Path) -> None:
    image = tmp_path / "copy.vhd"
    image.write_bytes(compliant.read_bytes())
    with open(image, "r+b") as f:
        f.seek(4096)
        f.write(b"\x01")  # e.g. a GRUB core image in the post-MBR gap
    with open(image, "rb") as f:
        assert not first_mib_empty(f)
    # Bytes past a declared disk end do not exist and cannot be non-empty.
    with open(image, "rb") as f:
        assert first_mib_empty(f, disk_size=4096)


def test_first_mib_empty_on_short_input() -> None:
    assert first_mib_empty(io.BytesIO(bytes(700)))
    assert not first_mib_empty(io.BytesIO(bytes(600) + b"x"))
