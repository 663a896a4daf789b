"""A small read-only ext2/3/4 reader: superblock, group descriptors, inodes, extents, directories.

Enough to read files by path inside a disk image without mounting it. A file system with a feature the reader
does not follow (meta_bg, inline_data, encrypt, casefold, a journal needing recovery, ...) is refused by the
feature's name when it is opened, so it is never misread. Every loop is bounded (extent
depth, directory size, symlink hops, indirect block counts) and every read goes through a `Region`,
so a corrupted file system gives an `Ext4Error`, never a hang or an unbounded allocation.
"""

from __future__ import annotations

import stat
import struct
from dataclasses import dataclass
from typing import Final

from .disk import Region
from .findings import ImageError

MAGIC: Final = 0xEF53
ROOT_INODE: Final = 2
_EXTENTS_FL: Final = 0x80000
_INLINE_DATA_FL: Final = 0x10000000
_INCOMPAT_64BIT: Final = 0x80
_EXTENT_MAGIC: Final = 0xF30A
_MAX_DEPTH: Final = 5
_MAX_SYMLINKS: Final = 16
_MAX_FILE: Final = 32 * 1024 * 1024

# Incompatible features this reader follows; any other incompat bit changes where or how data lies, so reading
# on would be a misread. Names are e2fsprogs' (lib/e2p/feature.c), so the message matches `dumpe2fs`.
_INCOMPAT_READ: Final = {0x2: "filetype", 0x40: "extent", 0x80: "64bit", 0x100: "mmp", 0x200: "flex_bg",
                         0x400: "ea_inode", 0x2000: "csum_seed", 0x4000: "large_dir"}
_INCOMPAT_REFUSED: Final = {
    0x1: "compression", 0x4: "needs_recovery", 0x8: "journal_dev", 0x10: "meta_bg", 0x1000: "dirdata",
    0x8000: "inline_data", 0x10000: "encrypt", 0x20000: "casefold"}
# Read-only-compatible features only matter when they move data the reader relies on: bigalloc keeps extents
# and inode tables in block units (read as usual); a snapshot or replica file system is not a plain root.
_RO_COMPAT_REFUSED: Final = {0x80: "snapshot", 0x800: "replica"}
_RO_COMPAT_KNOWN: Final = 0x1FFFF
_WHY: Final = {"needs_recovery": " (the journal holds changes not yet written back: shut the VM down cleanly "
                                 "before capturing the image)",
               "journal_dev": " (this is an external journal, not a file system)"}


class Ext4Error(ImageError):
    """The file system is not ext2/3/4 or is corrupted where it was read."""


@dataclass(frozen=True)
class Inode:
    number: int
    mode: int
    size: int
    flags: int
    block: bytes  # the 60-byte i_block area: extent tree root, block map or inline target

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.mode)

    @property
    def is_symlink(self) -> bool:
        return stat.S_ISLNK(self.mode)


def _refuse_unread_features(incompat: int, ro_compat: int) -> None:
    """Refuse a file system with a feature this reader does not follow, naming it (never read on and misread)."""
    names = [_INCOMPAT_REFUSED.get(bit, f"incompat 0x{bit:x}") for bit in _bits(incompat)
             if bit not in _INCOMPAT_READ]
    names += [_RO_COMPAT_REFUSED.get(bit, f"ro_compat 0x{bit:x}") for bit in _bits(ro_compat)
              if bit in _RO_COMPAT_REFUSED or not bit & _RO_COMPAT_KNOWN]
    if names:
        raise Ext4Error("; ".join(f"cannot read: ext4 feature {name} not supported{_WHY.get(name, '')}"
                                  for name in names))


def _bits(value: int) -> list[int]:
    return [1 << i for i in range(32) if value >> i & 1]


class Ext4:
    def __init__(self, volume: Region) -> None:
        self.volume = volume
        sb = volume.read(1024, 1024)
        if struct.unpack_from("<H", sb, 0x38)[0] != MAGIC:
            raise Ext4Error("no ext2/3/4 superblock magic 0xef53")
        log_block = struct.unpack_from("<I", sb, 0x18)[0]
        if log_block > 6:
            raise Ext4Error(f"superblock block size 2^(10+{log_block}) is absurd")
        self.block_size = 1024 << log_block
        self.inodes_count = struct.unpack_from("<I", sb, 0)[0]
        self.first_data_block = struct.unpack_from("<I", sb, 0x14)[0]
        self.inodes_per_group = struct.unpack_from("<I", sb, 0x28)[0]
        rev = struct.unpack_from("<I", sb, 0x4C)[0]
        self.inode_size = struct.unpack_from("<H", sb, 0x58)[0] if rev >= 1 else 128
        incompat = struct.unpack_from("<I", sb, 0x60)[0]
        if rev >= 1:
            _refuse_unread_features(incompat, struct.unpack_from("<I", sb, 0x64)[0])
        desc = struct.unpack_from("<H", sb, 0xFE)[0] if incompat & _INCOMPAT_64BIT else 32
        self.desc_size = desc if desc >= 32 else 32
        self.is64 = bool(incompat & _INCOMPAT_64BIT)
        if not self.inodes_per_group or self.inode_size < 128 or self.inode_size > self.block_size:
            raise Ext4Error(f"superblock geometry is corrupted (inodes per group {self.inodes_per_group}, "
                            f"inode size {self.inode_size})")
        self.volume_label = sb[0x78:0x88].rstrip(b"\0").decode("latin-1")

    # ------------------------------------------------------------------ blocks and inodes

    def _block(self, number: int, count: int = 1) -> bytes:
        return self.volume.read(number * self.block_size, count * self.block_size)

    def inode(self, number: int) -> Inode:
        if not 1 <= number <= self.inodes_count:
            raise Ext4Error(f"inode {number} is outside 1..{self.inodes_count}")
        group, index = divmod(number - 1, self.inodes_per_group)
        gdt = (self.first_data_block + 1) * self.block_size + group * self.desc_size
        d = self.volume.read(gdt, self.desc_size)
        table = struct.unpack_from("<I", d, 0x8)[0]
        if self.is64 and self.desc_size >= 64:
            table |= struct.unpack_from("<I", d, 0x28)[0] << 32
        raw = self.volume.read(table * self.block_size + index * self.inode_size, 128)
        mode, size_lo, flags = struct.unpack_from("<H", raw, 0)[0], struct.unpack_from("<I", raw, 4)[0], \
            struct.unpack_from("<I", raw, 0x20)[0]
        size = size_lo | (struct.unpack_from("<I", raw, 0x6C)[0] << 32)
        return Inode(number, mode, size, flags, raw[0x28:0x28 + 60])

    # --------------------------------------------------------------------- file content

    def read(self, inode: Inode, limit: int = _MAX_FILE) -> bytes:
        """The first ``min(size, limit)`` bytes of a file, directory or symlink."""
        size = min(inode.size, limit)
        if inode.flags & _INLINE_DATA_FL:
            return inode.block[:size]
        if inode.is_symlink and inode.size < 60 and not inode.flags & _EXTENTS_FL:
            return inode.block[: inode.size]
        nblocks = -(-size // self.block_size)
        out = bytearray(nblocks * self.block_size)
        for logical, physical, length in self._runs(inode, nblocks):
            length = min(length, nblocks - logical)
            if length > 0 and physical:
                data = self._block(physical, length)
                out[logical * self.block_size : logical * self.block_size + len(data)] = data
        return bytes(out[:size])

    def _runs(self, inode: Inode, nblocks: int) -> list[tuple[int, int, int]]:
        if inode.flags & _EXTENTS_FL:
            runs: list[tuple[int, int, int]] = []
            self._extents(inode.block, 0, runs, nblocks)
            return runs
        return self._block_map(inode.block, nblocks)

    def _extents(self, node: bytes, depth: int, runs: list[tuple[int, int, int]], nblocks: int) -> None:
        if depth > _MAX_DEPTH:
            raise Ext4Error("extent tree deeper than ext4 allows")
        magic, entries, _max, tree_depth = struct.unpack_from("<HHHH", node, 0)
        if magic != _EXTENT_MAGIC or 12 + entries * 12 > len(node):
            raise Ext4Error("corrupted extent header")
        for i in range(entries):
            at = 12 + i * 12
            if tree_depth == 0:
                logical, length, hi, lo = struct.unpack_from("<IHHI", node, at)
                if length > 32768:  # uninitialized extent: reads as zeros
                    continue
                if logical < nblocks:
                    runs.append((logical, lo | (hi << 32), length))
            else:
                logical, lo, hi = struct.unpack_from("<IIH", node, at)
                if logical < nblocks:
                    self._extents(self._block(lo | (hi << 32)), depth + 1, runs, nblocks)

    def _block_map(self, iblock: bytes, nblocks: int) -> list[tuple[int, int, int]]:
        pointers = list(struct.unpack("<15I", iblock))
        runs = [(i, p, 1) for i, p in enumerate(pointers[:12]) if i < nblocks]
        per = self.block_size // 4
        logical = 12
        for level, top in enumerate(pointers[12:], start=1):
            span = per**level
            if logical >= nblocks:
                break
            if top:
                self._indirect(top, level, logical, nblocks, runs)
            logical += span
        return runs

    def _indirect(self, block: int, level: int, logical: int, nblocks: int,
                  runs: list[tuple[int, int, int]]) -> None:
        per = self.block_size // 4
        children = struct.unpack(f"<{per}I", self._block(block))
        span = per ** (level - 1)
        for i, child in enumerate(children):
            at = logical + i * span
            if at >= nblocks:
                return
            if not child:
                continue
            if level == 1:
                runs.append((at, child, 1))
            else:
                self._indirect(child, level - 1, at, nblocks, runs)

    # ------------------------------------------------------------------ directories, paths

    def listdir(self, inode: Inode) -> dict[str, int]:
        if not inode.is_dir:
            raise Ext4Error(f"inode {inode.number} is not a directory")
        data = self.read(inode)
        entries: dict[str, int] = {}
        at = 0
        while at + 8 <= len(data):
            number, rec_len, name_len = struct.unpack_from("<IHB", data, at)
            if rec_len < 8 or at + rec_len > len(data) or 8 + name_len > rec_len:
                # htree and checksum tails keep rec_len sane; anything else is corruption of this block.
                at = (at // self.block_size + 1) * self.block_size
                continue
            if number:
                name = data[at + 8 : at + 8 + name_len].decode("utf-8", "surrogateescape")
                if name not in (".", ".."):
                    entries[name] = number
            at += rec_len
        return entries

    def lookup(self, path: str) -> Inode | None:
        """The inode at an absolute path, following symlinks; None when a component is missing."""
        return self._lookup(path, 0)

    def _lookup(self, path: str, hops: int) -> Inode | None:
        parts = [p for p in path.split("/") if p not in ("", ".")]
        current = self.inode(ROOT_INODE)
        stack: list[Inode] = []
        for i, part in enumerate(parts):
            if part == "..":
                current = stack.pop() if stack else current
                continue
            number = self.listdir(current).get(part) if current.is_dir else None
            if number is None:
                return None
            child = self.inode(number)
            if child.is_symlink:
                if hops >= _MAX_SYMLINKS:
                    raise Ext4Error(f"too many symbolic links resolving {path}")
                target = self.read(child, 4096).decode("utf-8", "surrogateescape")
                base = "/" + "/".join(parts[:i]) if not target.startswith("/") else ""
                rest = "/".join(parts[i + 1 :])
                return self._lookup(f"{base}/{target}/{rest}", hops + 1)
            stack.append(current)
            current = child
        return current

    def read_path(self, path: str, limit: int = _MAX_FILE) -> bytes | None:
        found = self.lookup(path)
        if found is None or found.is_dir:
            return None
        return self.read(found, limit)

    def list_path(self, path: str) -> dict[str, int]:
        found = self.lookup(path)
        return self.listdir(found) if found is not None and found.is_dir else {}
