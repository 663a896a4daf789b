"""A whole Linux test disk: the root tree as ext4 in one bootable partition at sector 2048, an MBR, a fixed VHD footer.

The disk is a sparse raw file, so a 32 MiB image costs only the blocks mkfs wrote. This module composes the steps
(``linux_tree``, ``ext4``, ``vhd``); the catalogue of broken disks built from it is ``variants.py``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from tests.images.errors import BuilderError
from tests.images.ext4 import FS_BLOCK, make_ext4
from tests.images.linux_tree import merge_tree, write_tree
from tests.images.vhd import MIB, PARTITION_START_LBA, SECTOR, FooterOverrides, mbr_sector, vhd_footer

DEFAULT_SIZE_MIB: Final = 32

_MIN_FS_SIZE: Final = 4 * MIB


def build_linux_vhd(
    path: str | os.PathLike[str],
    *,
    size_mib: int = DEFAULT_SIZE_MIB,
    tree_overrides: Mapping[str, bytes | None] | None = None,
    footer_overrides: FooterOverrides | None = None,
) -> Path:
    """Build a compliant fixed VHD of `size_mib` MiB (plus footer) at `path`.

    `tree_overrides` maps absolute image paths to new content, or to None to
    remove a default file; `footer_overrides` forces footer fields.
    """
    return build_disk(
        path,
        disk_size=size_mib * MIB,
        tree_overrides=tree_overrides,
        footer_overrides=footer_overrides,
    )


def build_disk(
    path: str | os.PathLike[str],
    *,
    disk_size: int,
    tree_overrides: Mapping[str, bytes | None] | None = None,
    footer_overrides: FooterOverrides | None = None,
    partition_start_lba: int = PARTITION_START_LBA,
    partition_sectors: int | None = None,
) -> Path:
    """Lower-level `build_linux_vhd`: byte-exact disk size and partition placement."""
    if disk_size % SECTOR:
        raise BuilderError(f"disk size must be whole sectors, got {disk_size}")
    fs_offset = partition_start_lba * SECTOR
    fs_size = (disk_size - fs_offset) // FS_BLOCK * FS_BLOCK
    if fs_size < _MIN_FS_SIZE:
        raise BuilderError(f"disk of {disk_size} bytes leaves no room for an ext4 filesystem")
    if partition_sectors is None:
        partition_sectors = disk_size // SECTOR - partition_start_lba
    tree = merge_tree(tree_overrides)
    out = Path(path)
    out.unlink(missing_ok=True)
    try:
        with open(out, "wb") as f:
            f.truncate(disk_size)  # sparse: unwritten blocks cost no disk space
        with tempfile.TemporaryDirectory(prefix="offerflow-vhd-") as tmp:
            tree_dir = Path(tmp) / "root"
            paths = write_tree(tree_dir, tree)
            make_ext4(out, tree_dir, fs_offset, fs_size, paths)
        with open(out, "r+b") as f:
            f.write(mbr_sector(partition_start_lba, partition_sectors))
            f.seek(disk_size)
            f.write(vhd_footer(disk_size, footer_overrides))
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return out
