"""Root file-system variants: the compliant root tree on other file systems, as real fixed VHDs.

- ``ext4-<feature>``: ext4 made by ``mkfs.ext4 -O <feature>`` (``needs_recovery`` and ``compression`` are set
  afterwards with ``debugfs``, which is how a dirty journal or an old compressing kernel leaves them;
  ``journal_dev`` is an external journal, which has the ext magic but no files);
- ``xfs`` and ``btrfs``: ``mkfs.xfs -p`` (a prototype file listing the tree) and ``mkfs.btrfs --rootdir``;
- ``lvm-xfs`` and ``lvm-ext4``: the RHEL default layout, an LVM2 physical volume on partition 1 (type 0x8e) made by
  ``pvcreate``/``vgcreate``/``lvcreate`` on a loop device, with a ``root`` logical volume (and a ``swap`` one for
  ``lvm-xfs``). This needs root and a loop device; the volume group is never activated (no device-mapper), its
  file systems are made apart and written at the offsets LVM itself reports, and the loop device is detached in
  every case. Each build names its volume group uniquely, so builds running at once never meet.

CLI: ``python -m tests.images.fs_variants OUT.vhd VARIANT``.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Final

from tests.images.errors import BuilderError
from tests.images.linux_tree import OWNER_GROUPS, merge_tree, write_tree
from tests.images.vhd import MIB, SECTOR, vhd_footer

LVM_TYPE: Final = 0x8E
LINUX_TYPE: Final = 0x83
_START_LBA: Final = 2048
_PART_OFFSET: Final = _START_LBA * SECTOR
_XFS_MIN: Final = 300 * MIB  # mkfs.xfs refuses anything smaller
_EXT4_FEATURES: Final = {"meta_bg": "meta_bg,^resize_inode", "encrypt": "encrypt", "inline_data": "inline_data",
                         "casefold": "casefold", "bigalloc": "bigalloc", "metadata_csum": "metadata_csum",
                         "no-extents": "^extent,^64bit,^flex_bg,^metadata_csum"}
_DEBUGFS_FEATURES: Final = ("needs_recovery", "compression")


def _tool(name: str) -> str:
    found = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if found is None:
        raise BuilderError(f"{name} not found (scripts/install installs e2fsprogs, xfsprogs, btrfs-progs and lvm2)")
    return found


def _run(*argv: str) -> str:
    result = subprocess.run([_tool(argv[0]), *argv[1:]], capture_output=True, text=True, check=False,
                            env={**os.environ, "LVM_SUPPRESS_FD_WARNINGS": "1"})
    if result.returncode != 0:
        raise BuilderError(f"{argv[0]} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def _container(path: Path, disk_size: int, partition_type: int) -> None:
    """A sparse disk with one partition from sector 2048 to the end, and a fixed VHD footer after it."""
    sectors = disk_size // SECTOR - _START_LBA
    mbr = bytearray(SECTOR)
    mbr[446:462] = bytes([0x80, 0xFE, 0xFF, 0xFF, partition_type, 0xFE, 0xFF, 0xFF]) + \
        _START_LBA.to_bytes(4, "little") + sectors.to_bytes(4, "little")
    mbr[510:512] = b"\x55\xaa"
    with open(path, "r+b" if path.exists() else "wb") as f:
        f.truncate(disk_size)
        f.write(mbr)
        f.seek(disk_size)
        f.write(vhd_footer(disk_size))


def _copy_into(disk: Path, offset: int, volume: Path) -> None:
    """Write a file-system image into the disk at ``offset``, skipping zero chunks so the disk stays sparse."""
    with open(volume, "rb") as src, open(disk, "r+b") as out:
        at = offset
        while chunk := src.read(MIB):
            if chunk.count(0) != len(chunk):
                out.seek(at)
                out.write(chunk)
            at += len(chunk)


def _tree(workdir: Path) -> tuple[Path, list[str]]:
    root = workdir / "root"
    return root, write_tree(root, merge_tree(None))


# ------------------------------------------------------------------------------------------ file systems


def _ext4(target: Path, size: int, root: Path, paths: list[str], features: str = "", offset: int = 0) -> None:
    spec = f"{target}?offset={offset}" if offset else str(target)
    extra = ["-O", features] + (["-C", "65536"] if "bigalloc" in features else []) if features else []
    _run("mkfs.ext4", "-q", "-F", "-b", "4096", *extra, "-L", "cloudimg-rootfs", "-E",
         f"offset={offset},root_owner=0:0", "-d", str(root), str(target), f"{size // 1024}k")
    # mkfs -d copies the builder's owners; the image must look root-owned whoever built it.
    script = "".join(f"set_inode_field {p} uid 0\nset_inode_field {p} gid {OWNER_GROUPS.get(p, 0)}\n" for p in paths)
    with tempfile.NamedTemporaryFile("w", suffix=".debugfs", delete=False) as f:
        f.write(script)
    try:
        _run("debugfs", "-w", "-f", f.name, spec)
    finally:
        os.unlink(f.name)


def _xfs_prototype(root: Path) -> str:
    """mkfs.xfs's prototype file for the tree: one line per entry, mode, uid, gid (and source or target)."""
    lines = ["/dev/null", "0 0", "d--755 0 0"]

    def walk(directory: Path, depth: int) -> None:
        for entry in sorted(directory.iterdir()):
            st = entry.lstat()
            image_path = "/" + entry.relative_to(root).as_posix()
            owner = f"0 {OWNER_GROUPS.get(image_path, 0)}"
            perm = f"{stat.S_IMODE(st.st_mode) & 0o777:03o}"
            if entry.is_symlink():
                lines.append(f"{' ' * depth}{entry.name} l--{perm} {owner} {os.readlink(entry)}")
            elif entry.is_dir():
                lines.append(f"{' ' * depth}{entry.name} d--{perm} {owner}")
                walk(entry, depth + 1)
                lines.append(f"{' ' * depth}$")
            else:
                lines.append(f"{' ' * depth}{entry.name} ---{perm} {owner} {entry}")

    walk(root, 1)
    return "\n".join([*lines, "$", ""])


def _xfs(target: Path, size: int, root: Path) -> None:
    proto = target.with_suffix(".proto")
    proto.write_text(_xfs_prototype(root))
    with open(target, "wb") as f:
        f.truncate(size)
    _run("mkfs.xfs", "-q", "-f", "-L", "root", "-p", str(proto), str(target))


def _btrfs(target: Path, size: int, root: Path) -> None:
    with open(target, "wb") as f:
        f.truncate(size)
    _run("mkfs.btrfs", "-q", "-f", "-L", "root", "--rootdir", str(root), str(target))


def _swap(target: Path, size: int) -> None:
    with open(target, "wb") as f:
        f.truncate(size)
    _run("mkswap", "-L", "swap", str(target))


# ------------------------------------------------------------------------------------------------ LVM


def _lvm_layout(disk: Path, vg: str, lvs: list[tuple[str, int]]) -> dict[str, int]:
    """Make the PV, VG and LVs on partition 1 of ``disk``; return each LV's byte offset in the partition."""
    loop = _run("losetup", "--find", "--show", "--offset", str(_PART_OFFSET), str(disk)).strip()
    config = (f'devices {{ filter=["a|^{loop}$|","r|.*|"] use_devicesfile=0 obtain_device_list_from_udev=0 }} '
              "activation { udev_sync=0 udev_rules=0 } backup { backup=0 archive=0 } global { activation=0 }")
    try:
        _run("pvcreate", "-q", "--config", config, loop)
        _run("vgcreate", "-q", "--config", config, "-s", "4m", vg, loop)
        for name, size in lvs:
            _run("lvcreate", "-q", "--config", config, "-an", "-Zn", "-L", f"{size // MIB}m", "-n", name, vg)
        report = json.loads(_run("lvs", "--config", config, "--reportformat", "json", "--units", "b", "--nosuffix",
                                 "-o", "lv_name,seg_pe_ranges,vg_extent_size", vg))["report"][0]["lv"]
        pe_start = int(_run("pvs", "--config", config, "--noheadings", "--units", "b", "--nosuffix",
                            "-o", "pe_start", loop).strip())
    finally:
        # The VG lives on in the image only: it was never activated, and the host forgets it with the loop device.
        subprocess.run([_tool("losetup"), "-d", loop], capture_output=True, check=False)
    offsets = {}
    for lv in report:
        first_pe = int(lv["seg_pe_ranges"].rsplit(":", 1)[1].split("-")[0])
        offsets[lv["lv_name"]] = pe_start + first_pe * int(lv["vg_extent_size"])
    return offsets


def _build_lvm(path: Path, root_fs: str) -> Path:
    root_size = _XFS_MIN + 4 * MIB if root_fs == "xfs" else 48 * MIB
    lvs = [("root", root_size)] + ([("swap", 8 * MIB)] if root_fs == "xfs" else [])
    disk_size = _PART_OFFSET + sum(size for _, size in lvs) + 8 * MIB  # room for the PV header and metadata
    _container(path, disk_size, LVM_TYPE)
    with tempfile.TemporaryDirectory(prefix="offerflow-lvm-") as tmp:
        work = Path(tmp)
        offsets = _lvm_layout(path, f"oflvg{uuid.uuid4().hex[:12]}", lvs)
        root, paths = _tree(work)
        volume = work / "root.img"
        if root_fs == "xfs":
            _xfs(volume, root_size, root)
            _swap(work / "swap.img", 8 * MIB)
            _copy_into(path, _PART_OFFSET + offsets["swap"], work / "swap.img")
        else:
            with open(volume, "wb") as f:
                f.truncate(root_size)
            _ext4(volume, root_size, root, paths)
        _copy_into(path, _PART_OFFSET + offsets["root"], volume)
    return path


def _build_plain(path: Path, kind: str) -> Path:
    """One Linux partition (type 0x83) holding the root tree as ``kind``: an ext4 feature, xfs or btrfs."""
    size = _XFS_MIN + 8 * MIB if kind == "xfs" else 136 * MIB if kind == "btrfs" else 40 * MIB
    fs_size = size - _PART_OFFSET
    _container(path, size, LINUX_TYPE)
    with tempfile.TemporaryDirectory(prefix="offerflow-fs-") as tmp:
        root, paths = _tree(Path(tmp))
        if kind in ("xfs", "btrfs"):
            volume = Path(tmp) / "fs.img"
            (_xfs if kind == "xfs" else _btrfs)(volume, fs_size, root)
            _copy_into(path, _PART_OFFSET, volume)
        elif kind == "journal_dev":  # an external journal: ext magic, but no files at all
            _run("mkfs.ext4", "-q", "-F", "-b", "4096", "-O", "journal_dev", "-E", f"offset={_PART_OFFSET}",
                 str(path), f"{fs_size // 1024}k")
        elif kind in _DEBUGFS_FEATURES:
            _ext4(path, fs_size, root, paths, offset=_PART_OFFSET)
            _run("debugfs", "-w", "-R", f"feature {kind}", f"{path}?offset={_PART_OFFSET}")
        else:
            _ext4(path, fs_size, root, paths, _EXT4_FEATURES[kind], offset=_PART_OFFSET)
    return path


def _plain(kind: str) -> Callable[[Path], Path]:
    return lambda p: _build_plain(p, kind)


FS_VARIANTS: Final[dict[str, Callable[[Path], Path]]] = {
    **{f"ext4-{name}": _plain(name) for name in [*_EXT4_FEATURES, *_DEBUGFS_FEATURES, "journal_dev"]},
    "xfs": _plain("xfs"),
    "btrfs": _plain("btrfs"),
    "lvm-xfs": lambda p: _build_lvm(p, "xfs"),
    "lvm-ext4": lambda p: _build_lvm(p, "ext4"),
}


def build_fs_variant(path: str | os.PathLike[str], name: str) -> Path:
    if name not in FS_VARIANTS:
        raise BuilderError(f"unknown file-system variant {name!r}; choose from {', '.join(FS_VARIANTS)}")
    out = Path(path)
    out.unlink(missing_ok=True)
    try:
        return FS_VARIANTS[name](out)
    except BaseException:
        out.unlink(missing_ok=True)
        raise


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(f"usage: python -m tests.images.fs_variants OUT.vhd {{{','.join(FS_VARIANTS)}}}")
    try:
        print(build_fs_variant(sys.argv[1], sys.argv[2]))
    except BuilderError as exc:
        sys.exit(f"error: {exc}")
