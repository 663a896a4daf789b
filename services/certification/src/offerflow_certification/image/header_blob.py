"""rpm header blobs, as rpm stores one per package in its database (rpm's `lib/header.c`, `headerImport`).

A blob is: the index length `il` and data length `dl` (32-bit big endian), `il` index entries of 16 bytes
(tag, type, offset, count) and `dl` bytes of data. Only the few string and integer tags the inventory needs
are decoded, with every offset checked against the data.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

NAME, VERSION, RELEASE, EPOCH, ARCH, SOURCERPM = 1000, 1001, 1002, 1003, 1022, 1044
_INT32, _STRING, _I18NSTRING = 4, 6, 9
_MAX_INDEX: Final = 0xFFFF  # rpm's own limit on header entries
_MAX_DATA: Final = 256 * 1024 * 1024


class HeaderError(ValueError):
    pass


@dataclass(frozen=True)
class HeaderPackage:
    name: str
    epoch: int | None
    version: str
    release: str
    arch: str
    source: str | None  # the source package's name, from SOURCERPM ("bash-5.1.8-6.el9.src.rpm" -> "bash")

    @property
    def evr(self) -> str:
        vr = f"{self.version}-{self.release}" if self.release else self.version
        return f"{self.epoch}:{vr}" if self.epoch else vr


def parse_header(blob: bytes) -> dict[int, str | int]:
    if len(blob) < 8:
        raise HeaderError("header blob shorter than 8 bytes")
    il, dl = struct.unpack_from(">II", blob)
    if il > _MAX_INDEX or dl > _MAX_DATA or 8 + il * 16 + dl > len(blob):
        raise HeaderError(f"header blob sizes out of range (il={il}, dl={dl}, {len(blob)} bytes)")
    data = blob[8 + il * 16 : 8 + il * 16 + dl]
    wanted = {NAME, VERSION, RELEASE, EPOCH, ARCH, SOURCERPM}
    out: dict[int, str | int] = {}
    for i in range(il):
        tag, kind, offset, count = struct.unpack_from(">iIiI", blob, 8 + i * 16)
        if tag not in wanted:
            continue
        if offset < 0 or offset >= dl:
            raise HeaderError(f"tag {tag}: offset {offset} outside the data ({dl} bytes)")
        if kind in (_STRING, _I18NSTRING):
            end = data.find(b"\0", offset)
            if end < 0:
                raise HeaderError(f"tag {tag}: unterminated string")
            out[tag] = data[offset:end].decode("utf-8", "replace")
        elif kind == _INT32 and count >= 1 and offset + 4 <= dl:
            out[tag] = struct.unpack_from(">I", data, offset)[0]
    return out


def package_of(blob: bytes) -> HeaderPackage:
    tags = parse_header(blob)
    name, version = tags.get(NAME), tags.get(VERSION)
    if not isinstance(name, str) or not isinstance(version, str):
        raise HeaderError("a header without a name or version")
    release, arch, epoch, srpm = tags.get(RELEASE, ""), tags.get(ARCH, ""), tags.get(EPOCH), tags.get(SOURCERPM)
    source = None
    if isinstance(srpm, str) and srpm.count("-") >= 2:
        source = srpm.rsplit("-", 2)[0]
    return HeaderPackage(name, epoch if isinstance(epoch, int) else None, version, str(release), str(arch), source)
