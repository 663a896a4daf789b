"""Builds small but real Linux fixed VHDs for certification tests, without root.

The disk is a sparse raw file: an MBR, one bootable Linux partition at sector 2048 holding an ext4 filesystem
made by ``mkfs.ext4 -d`` from a prepared tree, then a fixed VHD footer. Only e2fsprogs and the standard library
are needed. This module is the public entry: tests, ``bench/`` and ``deploy/dev/demo.py`` import from here, so
the names below stay importable whichever module of the package now holds them:

- ``vhd.py``: the container (MBR and footer encoders), written apart from the inspector on purpose;
- ``linux_tree.py``: the files of the generalized Ubuntu root;
- ``ext4.py``: the filesystem made from that tree, root-owned without root;
- ``disk.py``: the whole disk composed from the three;
- ``variants.py``: the format variants (one container or partition-table defect each);
- ``os_variants.py``: the OS-level variants, one per certification test, NTFS included.

CLI: ``python -m tests.images.builder OUT.vhd [--size-mib N] [--variant NAME]`` (format and OS variants).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.images.disk import DEFAULT_SIZE_MIB, build_disk, build_linux_vhd
from tests.images.errors import BuilderError
from tests.images.linux_tree import AGENT_VERSION, KERNEL_VERSION, Tree, default_tree
from tests.images.variants import VARIANTS, build_variant
from tests.images.vhd import (
    FOOTER_SIZE,
    LINUX_PARTITION_TYPE,
    MIB,
    PARTITION_START_LBA,
    SECTOR,
    FooterOverrides,
    chs_geometry,
    mbr_sector,
    vhd_footer,
)

# The names importers use; listing them marks the imports above as re-exports (mypy strict, ruff F401).
__all__ = [
    "AGENT_VERSION",
    "DEFAULT_SIZE_MIB",
    "FOOTER_SIZE",
    "KERNEL_VERSION",
    "LINUX_PARTITION_TYPE",
    "MIB",
    "PARTITION_START_LBA",
    "SECTOR",
    "VARIANTS",
    "BuilderError",
    "FooterOverrides",
    "Tree",
    "build_disk",
    "build_linux_vhd",
    "build_variant",
    "chs_geometry",
    "default_tree",
    "main",
    "mbr_sector",
    "vhd_footer",
]


def main(argv: list[str] | None = None) -> int:
    # Imported here, not at the top: os_variants imports this module, so a top-level import would be circular.
    from tests.images.os_variants import OS_VARIANTS, build_os_variant

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path, help="VHD file to write")
    parser.add_argument("--size-mib", type=int, default=DEFAULT_SIZE_MIB)
    os_variants: dict[str, Callable[[str | os.PathLike[str], str], Path]] = dict.fromkeys(OS_VARIANTS, build_os_variant)
    parser.add_argument("--variant", choices=[*VARIANTS, *os_variants], default="compliant")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        if args.variant in os_variants:
            out = os_variants[args.variant](args.out, args.variant)
        else:
            out = build_variant(args.out, args.variant, size_mib=args.size_mib)
    except BuilderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    elapsed = time.monotonic() - started
    print(f"{out}: {args.variant}, {out.stat().st_size} bytes, built in {elapsed:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
