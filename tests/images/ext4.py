"""The filesystem step: an ext4 volume made from a materialised tree, inside a disk file, without root.

``mkfs.ext4 -d`` populates the volume at a byte offset of the disk; ``debugfs`` then fixes the owners. Only
e2fsprogs is needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from tests.images.errors import BuilderError
from tests.images.linux_tree import OWNER_GROUPS

FS_BLOCK: Final = 4096
_SBIN_DIRS: Final = ("/usr/sbin", "/sbin")


def _tool(name: str) -> str:
    # Non-root PATHs often lack the sbin directories where e2fsprogs lives.
    search = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN_DIRS])
    found = shutil.which(name, path=search)
    if found is None:
        raise BuilderError(f"{name} not found (install e2fsprogs >= 1.43)")
    return found


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuilderError(f"{argv[0]} failed ({result.returncode}): {result.stderr.strip()}")


def make_ext4(disk: Path, tree_dir: Path, offset: int, size: int, paths: Iterable[str]) -> None:
    """Make an ext4 volume of `size` bytes at `offset` of `disk` from `tree_dir`; `paths` are its image paths."""
    _run(
        [
            _tool("mkfs.ext4"),
            "-q",
            "-F",
            "-b",
            str(FS_BLOCK),
            "-L",
            "cloudimg-rootfs",
            "-E",
            f"offset={offset},root_owner=0:0",
            "-d",
            str(tree_dir),
            str(disk),
            f"{size // 1024}k",
        ]
    )
    # mkfs -d copies the builder's own uid/gid; an image built by a normal user
    # must still look root-owned to the inspectors.
    commands = []
    for path in paths:
        commands.append(f"set_inode_field {path} uid 0")
        commands.append(f"set_inode_field {path} gid {OWNER_GROUPS.get(path, 0)}")
    with tempfile.NamedTemporaryFile("w", suffix=".debugfs", delete=False) as script:
        script.write("\n".join(commands) + "\n")
    try:
        _run([_tool("debugfs"), "-w", "-f", script.name, f"{disk}?offset={offset}"])
    finally:
        os.unlink(script.name)
