"""The format variants: one disk per container or partition-table defect the certifier must catch.

Most variants are the compliant disk with one thing wrong (a footer field, the file length, the partition
placement, the MBR signature), so a variant failing any other check is a bug in the certifier or in the variant.
The OS-level variants, one per Linux or Windows test, are in ``os_variants.py``.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from tests.images.disk import DEFAULT_SIZE_MIB, build_disk, build_linux_vhd
from tests.images.errors import BuilderError
from tests.images.vhd import FOOTER_SIZE, MIB, SECTOR


def _patch(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def _flip_checksum(path: Path) -> None:
    checksum_at = path.stat().st_size - FOOTER_SIZE + 64
    with open(path, "r+b") as f:
        f.seek(checksum_at)
        (stored,) = struct.unpack(">I", f.read(4))
        f.seek(checksum_at)
        f.write(struct.pack(">I", stored ^ 0x1))


def _variant_compliant(path: Path, size_mib: int) -> None:
    build_linux_vhd(path, size_mib=size_mib)


def _variant_wrong_cookie(path: Path, size_mib: int) -> None:
    build_linux_vhd(path, size_mib=size_mib, footer_overrides={"cookie": b"notavhd!"})


def _variant_bad_checksum(path: Path, size_mib: int) -> None:
    build_linux_vhd(path, size_mib=size_mib)
    _flip_checksum(path)


def _variant_dynamic(path: Path, size_mib: int) -> None:
    build_linux_vhd(path, size_mib=size_mib, footer_overrides={"disk_type": 3})


def _variant_truncated(path: Path, size_mib: int) -> None:
    # An interrupted upload: the tail, footer included, is missing.
    build_linux_vhd(path, size_mib=size_mib)
    os.truncate(path, path.stat().st_size - MIB)


def _variant_size_mismatch(path: Path, size_mib: int) -> None:
    build_linux_vhd(path, size_mib=size_mib, footer_overrides={"current_size": (size_mib + 1) * MIB})


def _variant_not_mib_multiple(path: Path, size_mib: int) -> None:
    build_disk(path, disk_size=size_mib * MIB + SECTOR)


def _variant_too_small(path: Path, size_mib: int) -> None:
    build_linux_vhd(path, size_mib=16)


def _variant_absurd_size(path: Path, size_mib: int) -> None:
    # ~16 EiB yet MiB-aligned, so only the file-length rule can catch it.
    build_linux_vhd(path, size_mib=size_mib, footer_overrides={"current_size": 0xFFFF_FFFF_FFF0_0000})


def _variant_partition_outside(path: Path, size_mib: int) -> None:
    disk_sectors = size_mib * MIB // SECTOR
    build_disk(path, disk_size=size_mib * MIB, partition_sectors=disk_sectors)


def _variant_partition_in_first_mib(path: Path, size_mib: int) -> None:
    # Old DOS-style alignment: the filesystem really starts at sector 63.
    build_disk(path, disk_size=size_mib * MIB, partition_start_lba=63)


def _variant_no_mbr(path: Path, size_mib: int) -> None:
    build_linux_vhd(path, size_mib=size_mib)
    _patch(path, 510, b"\0\0")


def _variant_tiny_file(path: Path, size_mib: int) -> None:
    Path(path).write_bytes(b"conectix".ljust(100, b"\0"))


VARIANTS: Final[Mapping[str, Callable[[Path, int], None]]] = {
    "compliant": _variant_compliant,
    "wrong-cookie": _variant_wrong_cookie,
    "bad-checksum": _variant_bad_checksum,
    "dynamic": _variant_dynamic,
    "truncated": _variant_truncated,
    "size-mismatch": _variant_size_mismatch,
    "not-mib-multiple": _variant_not_mib_multiple,
    "too-small": _variant_too_small,
    "absurd-size": _variant_absurd_size,
    "partition-outside": _variant_partition_outside,
    "partition-in-first-mib": _variant_partition_in_first_mib,
    "no-mbr": _variant_no_mbr,
    "tiny-file": _variant_tiny_file,
}


def build_variant(path: str | os.PathLike[str], variant: str, *, size_mib: int = DEFAULT_SIZE_MIB) -> Path:
    """Build the named variant (see `VARIANTS`) at `path`."""
    try:
        make = VARIANTS[variant]
    except KeyError:
        raise BuilderError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}") from None
    out = Path(path)
    make(out, size_mib)
    return out
