"""Fixed VHD footer and whole-image inspection against real images made by tests.images.builder (MBR: test_mbr)."""

from __future__ import annotations

import io
import random
import struct
import uuid
from pathlib import Path
from typing import BinaryIO

import pytest

from offerflow_certification.image.vhd import (
    FOOTER_SIZE,
    MIB,
    SECTOR_SIZE,
    TEST_CHECKSUM,
    TEST_COOKIE,
    TEST_DISK_TYPE,
    TEST_FILE_LENGTH,
    TEST_MBR_FIRST_MIB,
    TEST_MBR_INSIDE_DISK,
    TEST_MBR_TABLE,
    TEST_MIN_SIZE,
    TEST_SIZE_ALIGNMENT,
    DiskType,
    ImageError,
    check_footer,
    check_vhd,
    check_vhd_file,
    first_mib_empty,
    footer_checksum,
    parse_footer,
    read_footer,
)
from tests.images.builder import VARIANTS, build_variant, vhd_footer
from tests.images.findings import by_id, failed_ids

ALL_TESTS = {
    TEST_COOKIE,
    TEST_CHECKSUM,
    TEST_DISK_TYPE,
    TEST_MIN_SIZE,
    TEST_SIZE_ALIGNMENT,
    TEST_FILE_LENGTH,
    TEST_MBR_TABLE,
    TEST_MBR_INSIDE_DISK,
    TEST_MBR_FIRST_MIB,
}
SIZE = 32 * MIB


# ------------------------------------------------------------------ compliant image


def test_compliant_image_passes_every_rule(compliant: Path) -> None:
    findings = check_vhd_file(compliant)
    assert {f.test_id for f in findings} == ALL_TESTS
    assert [f for f in findings if not f.passed] == []


def test_footer_fields_of_compliant_image(compliant: Path) -> None:
    with open(compliant, "rb") as f:
        footer = read_footer(f, compliant.stat().st_size)
    assert footer.cookie == b"conectix"
    assert footer.features == 2
    assert footer.format_version == 0x00010000
    assert footer.data_offset == 0xFFFFFFFFFFFFFFFF
    assert footer.creator_host_os == b"Wi2k"
    assert footer.current_size == footer.original_size == SIZE
    # 65536 sectors: the spec's algorithm settles on 17 sectors/track, 4 heads.
    assert (footer.cylinders, footer.heads, footer.sectors_per_track) == (963, 4, 17)
    assert footer.disk_type == DiskType.FIXED
    assert footer.checksum_valid
    assert footer.unique_id.version == 4
    assert footer.saved_state == 0
    assert footer.created_at.year >= 2020


# ------------------------------------------------------------------- broken variants

EXPECTED_FAILURES: dict[str, set[str]] = {
    "compliant": set(),
    "wrong-cookie": {TEST_COOKIE},
    "bad-checksum": {TEST_CHECKSUM},
    "dynamic": {TEST_DISK_TYPE},
    "size-mismatch": {TEST_FILE_LENGTH},
    "not-mib-multiple": {TEST_SIZE_ALIGNMENT},
    "too-small": {TEST_MIN_SIZE},
    "absurd-size": {TEST_FILE_LENGTH},
    "partition-outside": {TEST_MBR_INSIDE_DISK},
    "partition-in-first-mib": {TEST_MBR_FIRST_MIB},
    "no-mbr": {TEST_MBR_TABLE, TEST_MBR_INSIDE_DISK, TEST_MBR_FIRST_MIB},
    # The footer is gone, so the last sector is filesystem data read as a
    # footer, and the partition now runs past the bytes that exist.
    "truncated": {
        TEST_COOKIE,
        TEST_CHECKSUM,
        TEST_DISK_TYPE,
        TEST_MIN_SIZE,
        TEST_FILE_LENGTH,
        TEST_MBR_INSIDE_DISK,
    },
}


def test_every_builder_variant_has_an_expectation() -> None:
    assert set(VARIANTS) == set(EXPECTED_FAILURES) | {"tiny-file"}


@pytest.mark.parametrize("variant", sorted(EXPECTED_FAILURES))
def test_variant_fails_exactly_the_right_rules(variant: str, tmp_path: Path) -> None:
    image = build_variant(tmp_path / f"{variant}.vhd", variant)
    findings = check_vhd_file(image)
    assert {f.test_id for f in findings} == ALL_TESTS
    assert failed_ids(findings) == EXPECTED_FAILURES[variant]


def test_tiny_file_is_an_image_error(tmp_path: Path) -> None:
    image = build_variant(tmp_path / "tiny.vhd", "tiny-file")
    with pytest.raises(ImageError, match="shorter than the 512-byte VHD footer"):
        check_vhd_file(image)


def test_failures_explain_what_was_found(tmp_path: Path) -> None:
    cookie = by_id(check_vhd_file(build_variant(tmp_path / "c.vhd", "wrong-cookie")))[TEST_COOKIE]
    assert (cookie.actual, cookie.required) == ('"notavhd!"', '"conectix"')

    dynamic = by_id(check_vhd_file(build_variant(tmp_path / "d.vhd", "dynamic")))[TEST_DISK_TYPE]
    assert (dynamic.actual, dynamic.required) == ("dynamic (3)", "fixed (2)")

    small = by_id(check_vhd_file(build_variant(tmp_path / "s.vhd", "too-small")))[TEST_MIN_SIZE]
    assert small.actual.startswith(f"{16 * MIB} bytes")

    early = check_vhd_file(build_variant(tmp_path / "e.vhd", "partition-in-first-mib"))
    assert by_id(early)[TEST_MBR_FIRST_MIB].actual == "partition 1 starts at sector 63"

    outside = check_vhd_file(build_variant(tmp_path / "o.vhd", "partition-outside"))
    assert "disk has 65536 sectors" in by_id(outside)[TEST_MBR_INSIDE_DISK].actual


# ------------------------------------------------------------------------ footer unit


def test_checksum_is_ones_complement_of_byte_sum() -> None:
    assert footer_checksum(bytes(FOOTER_SIZE)) == 0xFFFFFFFF
    raw = bytearray(FOOTER_SIZE)
    raw[0] = 0x10
    raw[64:68] = b"\xff\xff\xff\xff"  # the checksum field itself is not summed
    assert footer_checksum(bytes(raw)) == 0xFFFFFFEF


def test_parse_footer_round_trip() -> None:
    unique = uuid.uuid4()
    raw = vhd_footer(SIZE, {"unique_id": unique.bytes, "timestamp": 86400})
    footer = parse_footer(raw)
    assert footer.unique_id == unique
    assert footer.created_at.isoformat() == "2000-01-02T00:00:00+00:00"
    assert footer.checksum == struct.unpack(">I", raw[64:68])[0] == footer.computed_checksum
    assert all(f.passed for f in check_footer(footer, SIZE + FOOTER_SIZE))


def test_unknown_disk_type_is_reported_not_raised() -> None:
    footer = parse_footer(vhd_footer(SIZE, {"disk_type": 9}))
    finding = by_id(check_footer(footer, SIZE + FOOTER_SIZE))[TEST_DISK_TYPE]
    assert not finding.passed
    assert finding.actual == "unknown (9)"


@pytest.mark.parametrize("length", [0, 1, 511])
def test_short_file_is_an_image_error(length: int) -> None:
    with pytest.raises(ImageError):
        read_footer(io.BytesIO(bytes(length)), length)


def test_file_size_larger_than_the_file_is_an_image_error() -> None:
    # A caller passing a stale size must get a clear error, not a short parse.
    data = io.BytesIO(bytes(1000))
    with pytest.raises(ImageError, match="file ended"):
        read_footer(data, 4000)


class _FailingReader(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return offset

    def readinto(self, buffer: object) -> int:
        raise OSError(5, "Input/output error")


def test_io_error_is_an_image_error() -> None:
    reader: BinaryIO = _FailingReader()  # type: ignore[assignment]
    with pytest.raises(ImageError, match="Input/output error"):
        read_footer(reader, 4096)
    with pytest.raises(ImageError):
        first_mib_empty(reader)


def test_missing_file_is_an_image_error(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="cannot open"):
        check_vhd_file(tmp_path / "nope.vhd")


# ------------------------------------------------------------------ bounded reads


class _CountingReader(io.BufferedReader):
    bytes_read = 0

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def test_inspection_reads_a_bounded_number_of_bytes(compliant: Path) -> None:
    with open(compliant, "rb", buffering=0) as raw:
        reader = _CountingReader(raw, buffer_size=SECTOR_SIZE)
        check_vhd(reader, compliant.stat().st_size)
        assert reader.bytes_read <= 2 * SECTOR_SIZE
        reader.bytes_read = 0
        first_mib_empty(reader)
        assert reader.bytes_read <= MIB


# ------------------------------------------------------------------------- robustness


def test_random_input_gives_findings_or_image_error() -> None:
    rng = random.Random(20240501)
    for _ in range(300):
        length = rng.choice([0, 1, 511, 512, 513, 1024, rng.randrange(0, 8192)])
        data = rng.randbytes(length)
        if rng.random() < 0.5 and length >= FOOTER_SIZE:
            # A footer that is well formed except for random sizes and type.
            footer = vhd_footer(
                rng.randrange(0, 2**64) // 512 * 512,
                {"disk_type": rng.randrange(0, 2**32), "current_size": rng.randrange(0, 2**64)},
            )
            data = data[: length - FOOTER_SIZE] + footer
        try:
            findings = check_vhd(io.BytesIO(data), len(data))
        except ImageError:
            assert len(data) < FOOTER_SIZE
        else:
            assert {f.test_id for f in findings} == ALL_TESTS
