"""Bounded random access to an image's data and to its partitions.

Every read names its offset and length and is checked against the region it belongs to, so a
corrupted table can make a read fail with a clear message but never run past the disk or hang.
"""

from __future__ import annotations

import os
import re
import struct
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

    kind: str  # "ext", "ntfs", "bitlocker", "xfs", "lvm2", "btrfs", "swap", "unknown", "unreadable"
    detail: str = ""


# Kinds a Linux root can be in that this certifier recognises but does not read (ext is read, LVM is looked into).
LINUX_UNREAD: Final = {"xfs": "XFS", "btrfs": "Btrfs"}
_BTRFS_MAGIC_AT: Final = 64 * 1024 + 0x40


def probe(volume: Region) -> Probe:
    try:
        head = volume.read(0, min(8192, volume.length))
        btrfs = volume.read(_BTRFS_MAGIC_AT, 8) if volume.length >= _BTRFS_MAGIC_AT + 8 else b""
    except ImageError as exc:
        return Probe("unreadable", exc.message)
    if head[3:11] == b"NTFS    ":
        return Probe("ntfs")
    if head[3:11] == b"-FVE-FS-":
        return Probe("bitlocker")
    if len(head) >= 1024 + 0x3A and head[1024 + 0x38 : 1024 + 0x3A] == b"\x53\xef":
        return Probe("ext")
    if head[:4] == b"XFSB":
        return Probe("xfs")
    if _lvm_label(head) is not None:
        return Probe("lvm2")
    for page in (4096, 8192):
        if len(head) >= page and head[page - 10 : page] in (b"SWAPSPACE2", b"SWAP-SPACE"):
            return Probe("swap")
    if btrfs == b"_BHRfS_M":
        return Probe("btrfs")
    return Probe("unknown")


# ----------------------------------------------------------------------------------------------- LVM2
# A physical volume: a label in one of the first four sectors points to the PV header, whose metadata area holds
# the volume group as plain text (a circular buffer; its header says where the newest copy lies).

_MDA_MAGIC: Final = b" LVM2 x[5A%r0N*>"
_MAX_METADATA: Final = 1024 * 1024
_TOKEN: Final = re.compile(r'\s+|#[^\n]*|"((?:[^"\\]|\\.)*)"|([A-Za-z0-9_.+:/-]+)|([={}\[\],])')
_MAX_NESTING: Final = 8
_PUNCTUATION: Final = frozenset("={}[],")


@dataclass(frozen=True)
class LogicalVolume:
    """One LV of the volume group on a PV; ``region`` is its bytes when it is one linear run on this PV."""

    vg: str
    name: str
    region: Region | None
    layout: str  # "linear", or why it is not read ("2 segments", "thin", "on another PV")

    @property
    def label(self) -> str:
        return f"LV {self.vg}/{self.name}"


def _lvm_label(head: bytes) -> int | None:
    for sector in range(4):
        at = sector * SECTOR
        if head[at : at + 8] == b"LABELONE" and head[at + 24 : at + 32] == b"LVM2 001":
            return at
    return None


def lvm_volumes(pv: Region) -> list[LogicalVolume]:
    """The logical volumes the PV's metadata text names; an ImageError when the PV or its text is corrupted."""
    head = pv.read(0, 4 * SECTOR)
    label = _lvm_label(head)
    if label is None:
        raise ImageError(f"{pv.name}: no LVM2 label")
    header_at = label + struct.unpack_from("<I", head, label + 20)[0]
    header = pv.read(header_at, SECTOR)
    pv_id = header[:32].decode("ascii", "replace")
    at = 40
    # Data areas, then metadata areas: two lists of (offset, size), each ending with zeros.
    lists: tuple[list[tuple[int, int]], list[tuple[int, int]]] = ([], [])
    for areas in lists:
        while at + 16 <= len(header):
            offset, size = struct.unpack_from("<QQ", header, at)
            at += 16
            if not offset:
                break
            areas.append((offset, size))
    if not lists[1]:
        raise ImageError(f"{pv.name}: the LVM2 physical volume has no metadata area")
    text = _metadata_text(pv, *lists[1][0])
    return _volumes(pv, pv_id, _parse(text))


def _metadata_text(pv: Region, mda_offset: int, mda_size: int) -> str:
    mda = pv.read(mda_offset, SECTOR)
    if mda[4:20] != _MDA_MAGIC:
        raise ImageError(f"{pv.name}: the LVM2 metadata area has no magic")
    offset, size = struct.unpack_from("<QQ", mda, 40)
    if not 0 < size <= _MAX_METADATA or not SECTOR <= offset < mda_size:
        raise ImageError(f"{pv.name}: the LVM2 metadata pointer is corrupted ({size} bytes at {offset})")
    first = min(size, mda_size - offset)  # the text wraps to just after the area's header
    data = pv.read(mda_offset + offset, first) + pv.read(mda_offset + SECTOR, size - first)
    return data.rstrip(b"\0").decode("utf-8", "replace")


def _parse(text: str) -> dict[str, object]:
    tokens: list[str] = []
    at = 0
    for m in _TOKEN.finditer(text):
        if m.start() != at:
            raise ImageError(f"the LVM2 metadata text is corrupted at character {at}")
        at = m.end()
        if m.group(1) is not None:
            tokens.append(m.group(1))
        elif m.group(2) or m.group(3):
            tokens.append(m.group(2) or m.group(3))
    if at != len(text):
        raise ImageError(f"the LVM2 metadata text is corrupted at character {at}")
    return _section(tokens, 0, 0)[0]


def _section(tokens: list[str], at: int, depth: int) -> tuple[dict[str, object], int]:
    if depth > _MAX_NESTING:
        raise ImageError("the LVM2 metadata text nests too deep")
    out: dict[str, object] = {}
    while at < len(tokens) and tokens[at] != "}":
        key = tokens[at]
        nxt = tokens[at + 1] if at + 1 < len(tokens) else ""
        if key in _PUNCTUATION:
            raise ImageError(f"the LVM2 metadata text is corrupted near {key!r}")
        if nxt == "{":
            out[key], at = _section(tokens, at + 2, depth + 1)
            at += 1  # the closing brace
        elif nxt == "=" and at + 2 < len(tokens) and tokens[at + 2] == "[":
            try:
                close = tokens.index("]", at + 3)
            except ValueError:
                raise ImageError("the LVM2 metadata text has an unclosed list") from None
            out[key], at = [t for t in tokens[at + 3 : close] if t != ","], close + 1
        elif nxt == "=" and at + 2 < len(tokens):
            out[key], at = tokens[at + 2], at + 3
        else:
            raise ImageError(f"the LVM2 metadata text is corrupted near {key!r}")
    return out, at


def _volumes(pv: Region, pv_id: str, meta: dict[str, object]) -> list[LogicalVolume]:
    groups = [(name, body) for name, body in meta.items() if isinstance(body, dict) and "physical_volumes" in body]
    if not groups:
        raise ImageError(f"{pv.name}: the LVM2 metadata names no volume group")
    vg, body = groups[0]
    extent = _int(body.get("extent_size")) * SECTOR
    pvs = body.get("physical_volumes")
    here = [name for name, p in pvs.items() if isinstance(p, dict) and str(p.get("id", "")).replace("-", "") == pv_id] \
        if isinstance(pvs, dict) else []
    pe_start = _int(pvs[here[0]].get("pe_start")) * SECTOR if here and isinstance(pvs, dict) else 0
    lvs = body.get("logical_volumes")
    out = []
    for name, lv in (lvs.items() if isinstance(lvs, dict) else []):
        segments = [s for key, s in lv.items() if key.startswith("segment") and isinstance(s, dict)] \
            if isinstance(lv, dict) else []
        layout, region = f"{len(segments)} segments", None
        if len(segments) == 1:
            seg = segments[0]
            stripes = seg.get("stripes")
            if seg.get("type") != "striped" or seg.get("stripe_count") != "1" or not isinstance(stripes, list):
                layout = str(seg.get("type", "unknown"))
            elif len(stripes) != 2 or stripes[0] not in here:
                layout = "on another PV"
            else:
                layout = "linear"
                region = pv.sub(pe_start + _int(stripes[1]) * extent, _int(seg.get("extent_count")) * extent,
                                f"{pv.name} LV {vg}/{name}")
        out.append(LogicalVolume(vg, name, region, layout))
    return out


def _int(value: object) -> int:
    if not isinstance(value, str) or not value.isdigit():
        raise ImageError(f"the LVM2 metadata has {value!r} where a number belongs")
    return int(value)
