"""Bounded random access to an image's data and to its partitions.

Every read names its offset and length and is checked against the region it belongs to, so a
corrupted table can make a read fail with a clear message but never run past the disk or hang.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import BinaryIO, Final

from .findings import ImageError

SECTOR: Final = 512
# No single structure the inspectors read is larger; a bigger request is a corrupted pointer.
MAX_READ: Final = 64 * 1024 * 1024


class Region:
    """A byte range of the image file (the whole disk or one partition)."""

    def __init__(self, f: BinaryIO, start: int, length: int, name: str = "disk") -> None:
        self._f, self.start, self.length, self.name = f, start, max(0, length), name

    def read(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0 or length > MAX_READ:
            raise ImageError(f"{self.name}: refused a read of {length} bytes at offset {offset}")
        if offset + length > self.length:
            raise ImageError(f"{self.name}: {length} bytes at offset {offset} lie past its end ({self.length} bytes)")
        try:
            data = os.pread(self._f.fileno(), length, self.start + offset)
        except (OSError, AttributeError, ValueError):
            data = self._seek_read(offset, length)
        if len(data) != length:
            raise ImageError(f"{self.name}: the file ended inside {length} bytes at offset {offset}")
        return data

    def _seek_read(self, offset: int, length: int) -> bytes:
        try:
            self._f.seek(self.start + offset)
            return self._f.read(length)
        except OSError as exc:
            raise ImageError(f"{self.name}: cannot read at offset {offset}: {exc}") from exc

    def sub(self, start: int, length: int, name: str) -> Region:
        """A region inside this one, clipped to the bytes that exist."""
        start = max(0, min(start, self.length))
        return Region(self._f, self.start + start, min(length, self.length - start), name)


@dataclass(frozen=True)
class Probe:
    """What the first bytes of a partition say it holds."""

    kind: str  # "ext", "ntfs", "bitlocker", "swap", "unknown", "unreadable"
    detail: str = ""


def probe(volume: Region) -> Probe:
    try:
        head = volume.read(0, min(8192, volume.length))
    except ImageError as exc:
        return Probe("unreadable", exc.message)
    if head[3:11] == b"NTFS    ":
        return Probe("ntfs")
    if head[3:11] == b"-FVE-FS-":
        return Probe("bitlocker")
    if len(head) >= 1024 + 0x3A and head[1024 + 0x38 : 1024 + 0x3A] == b"\x53\xef":
        return Probe("ext")
    for page in (4096, 8192):
        if len(head) >= page and head[page - 10 : page] in (b"SWAPSPACE2", b"SWAP-SPACE"):
            return Probe("swap")
    return Probe("unknown")
