"""The disk container: the MBR and the fixed VHD footer around a filesystem.

These encoders are written independently of ``offerflow_certification.image`` on purpose: a shared bug must not
let the inspector and its fixtures agree with each other.
"""

from __future__ import annotations

import os
import struct
import time
import uuid
from typing import Final, TypedDict

MIB: Final = 1024 * 1024
SECTOR: Final = 512
FOOTER_SIZE: Final = 512
PARTITION_START_LBA: Final = 2048
LINUX_PARTITION_TYPE: Final = 0x83

_VHD_EPOCH_UNIX: Final = 946_684_800  # 2000-01-01T00:00:00Z
_FOOTER = struct.Struct(">8sIIQI4sI4sQQHBBII16sB427s")


class FooterOverrides(TypedDict, total=False):
    """Footer fields to force; ``checksum`` is recomputed unless given."""

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
    geometry: tuple[int, int, int]
    disk_type: int
    checksum: int
    unique_id: bytes
    saved_state: int


# --------------------------------------------------------------------------- MBR


def _chs(lba: int) -> bytes:
    # Classic 255-head, 63-sector translation; beyond cylinder 1023 the field
    # saturates and only the LBA values count.
    cylinder, rest = divmod(lba, 255 * 63)
    if cylinder > 1023:
        return b"\xfe\xff\xff"
    head, sector = divmod(rest, 63)
    return bytes([head, (sector + 1) | ((cylinder >> 2) & 0xC0), cylinder & 0xFF])


def mbr_sector(start_lba: int, sectors: int, *, bootable: bool = True) -> bytes:
    """An MBR with one Linux partition in slot 1 and a random disk signature."""
    sector = bytearray(SECTOR)
    sector[440:444] = os.urandom(4)
    end_lba = start_lba + max(sectors, 1) - 1
    sector[446:462] = struct.pack(
        "<B3sB3sII",
        0x80 if bootable else 0,
        _chs(start_lba),
        LINUX_PARTITION_TYPE,
        _chs(end_lba),
        start_lba,
        sectors,
    )
    sector[510:512] = b"\x55\xaa"
    return bytes(sector)


# ------------------------------------------------------------------------ footer


def chs_geometry(disk_size: int) -> tuple[int, int, int]:
    """(cylinders, heads, sectors per track) by the VHD specification's algorithm."""
    total = min(disk_size // SECTOR, 65535 * 16 * 255)
    if total >= 65535 * 16 * 63:
        spt, heads = 255, 16
        cyl_heads = total // spt
    else:
        spt = 17
        cyl_heads = total // spt
        heads = max((cyl_heads + 1023) // 1024, 4)
        if cyl_heads >= heads * 1024 or heads > 16:
            spt, heads = 31, 16
            cyl_heads = total // spt
        if cyl_heads >= heads * 1024:
            spt, heads = 63, 16
            cyl_heads = total // spt
    return cyl_heads // heads, heads, spt


def vhd_footer(disk_size: int, overrides: FooterOverrides | None = None) -> bytes:
    """A fixed-disk footer for `disk_size` bytes of data, with fields forced by `overrides`."""
    o = overrides or {}
    current_size = o.get("current_size", disk_size)
    cylinders, heads, spt = o.get("geometry", chs_geometry(current_size))
    raw = bytearray(
        _FOOTER.pack(
            o.get("cookie", b"conectix"),
            o.get("features", 0x00000002),
            o.get("format_version", 0x00010000),
            o.get("data_offset", 0xFFFFFFFFFFFFFFFF),
            o.get("timestamp", int(time.time()) - _VHD_EPOCH_UNIX),
            o.get("creator_application", b"ofl "),
            o.get("creator_version", 0x00010000),
            o.get("creator_host_os", b"Wi2k"),
            o.get("original_size", current_size),
            current_size,
            cylinders,
            heads,
            spt,
            o.get("disk_type", 2),
            0,
            o.get("unique_id", uuid.uuid4().bytes),
            o.get("saved_state", 0),
            bytes(427),
        )
    )
    checksum = o.get("checksum", ~sum(raw) & 0xFFFFFFFF)
    struct.pack_into(">I", raw, 64, checksum)
    return bytes(raw)
