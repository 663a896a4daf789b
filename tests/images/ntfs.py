"""NTFS volumes for Windows test disks: made by mkntfs, filled through an ntfs-3g (FUSE) mount, placed sparsely.

mkntfs cannot add files, so the volume is mounted with ntfs-3g and written through the kernel's VFS like any
directory. The volume is an image file of its own: ntfs-3g runs in the foreground (``no_detach``) and is waited
for after ``umount``, because a FUSE mount of a regular file is torn down asynchronously and its last writes
could otherwise race the copy into the disk. Only the volume's data extents are copied (SEEK_DATA/SEEK_HOLE), so
a 30 GiB disk costs the few tens of MiB mkntfs and the files wrote.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

from tests.images.errors import BuilderError

NTFS_PARTITION_TYPE: Final = 0x07
_COPY_CHUNK: Final = 4 * 1024 * 1024
_MOUNT_TIMEOUT: Final = 20.0
# BitLocker (Windows 7 and later) volume header, per libbde's format documentation.
BITLOCKER_GUID: Final = uuid.UUID("4967d63b-2e29-4ad8-8399-f6a339e3d001")
FVE_SIGNATURE: Final = b"-FVE-FS-"


def tool(name: str) -> str:
    found = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if found is None:
        raise BuilderError(f"{name} not found: install ntfs-3g (scripts/install does)")
    return found


def make_volume(volume: Path, size: int, start_lba: int, label: str = "Windows") -> None:
    """A sparse file of `size` bytes holding an empty NTFS made for a partition at sector `start_lba`."""
    with open(volume, "wb") as f:
        f.truncate(size)
    done = subprocess.run([tool("mkntfs"), "-F", "-Q", "-q", "-s", "512", "-c", "4096", "-p", str(start_lba),
                           "-H", "255", "-S", "63", "-L", label, str(volume)], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise BuilderError(f"mkntfs failed ({done.returncode}): {done.stderr.strip()}")


@contextlib.contextmanager
def mounted(volume: Path, mountpoint: Path) -> Iterator[Path]:
    """`volume` mounted read-write at `mountpoint` by an ntfs-3g process this context owns and waits for."""
    if os.geteuid() != 0:
        raise BuilderError("filling an NTFS volume needs root (an ntfs-3g FUSE mount)")
    mountpoint.mkdir(parents=True, exist_ok=True)
    log = mountpoint.with_name(mountpoint.name + ".log")
    with open(log, "wb") as out:
        proc = subprocess.Popen([tool("ntfs-3g"), "-o", "no_detach,windows_names", str(volume), str(mountpoint)],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_mounted(proc, mountpoint, log)
        yield mountpoint
    finally:
        if os.path.ismount(mountpoint):
            subprocess.run([tool("umount"), str(mountpoint)], capture_output=True, check=False)
        try:
            proc.wait(timeout=_MOUNT_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise BuilderError(f"ntfs-3g did not exit after unmounting {volume}") from None
    if proc.returncode != 0:
        raise BuilderError(f"ntfs-3g exited with {proc.returncode}: {log.read_text(errors='replace').strip()}")


def _wait_mounted(proc: subprocess.Popen[bytes], mountpoint: Path, log: Path) -> None:
    deadline = time.monotonic() + _MOUNT_TIMEOUT
    while not os.path.ismount(mountpoint):
        if proc.poll() is not None:
            raise BuilderError(f"ntfs-3g failed ({proc.returncode}): {log.read_text(errors='replace').strip()}")
        if time.monotonic() > deadline:
            raise BuilderError(f"ntfs-3g did not mount {mountpoint} within {_MOUNT_TIMEOUT:g} s")
        time.sleep(0.05)


def write_files(root: Path, files: Mapping[str, bytes]) -> None:
    """Write `files` (paths relative to the volume root, '/'-separated) under the mounted `root`."""
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def copy_extents(src: Path, dst: Path, dst_offset: int, *, src_offset: int = 0, length: int | None = None) -> int:
    """Copy the data extents of sparse `src` (from `src_offset`, `length` bytes or to its end) into `dst` at
    `dst_offset`, leaving holes as holes; returns the bytes copied."""
    copied = 0
    with open(src, "rb") as s, open(dst, "r+b") as d:
        end = os.fstat(s.fileno()).st_size if length is None else src_offset + length
        pos = src_offset
        while pos < end:
            try:
                start = os.lseek(s.fileno(), pos, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole is left
                break
            stop = min(os.lseek(s.fileno(), start, os.SEEK_HOLE), end)
            while start < stop:
                chunk = os.pread(s.fileno(), min(_COPY_CHUNK, stop - start), start)
                if not chunk:
                    raise BuilderError(f"{src} ended at {start} bytes, inside a data extent")
                os.pwrite(d.fileno(), chunk, dst_offset + start - src_offset)
                start += len(chunk)
                copied += len(chunk)
            pos = stop
    return copied


def bitlocker_boot_sector(start_lba: int, volume_size: int) -> bytes:
    """The boot sector Windows writes when BitLocker encrypts a volume.

    It poses as FAT32 to old tools ("NO NAME", "FAT32   "), and says BitLocker by its signature, its GUID and the
    offsets of the three FVE metadata blocks (written by `fve_metadata_header`).
    """
    sector = bytearray(512)
    sector[0:3] = b"\xeb\x58\x90"
    sector[3:11] = FVE_SIGNATURE
    struct.pack_into("<HBHBHHBHHHI", sector, 11, 512, 8, 0, 0, 0, 0, 0xF8, 0, 63, 255, start_lba)
    struct.pack_into("<IIHHIHH", sector, 32, 0, 0x1FE0, 0, 0, 0, 1, 6)
    struct.pack_into("<BBBI11s8s", sector, 64, 0x80, 0, 0x29, int.from_bytes(os.urandom(4), "little"),
                     b"NO NAME    ", b"FAT32   ")
    sector[160:176] = BITLOCKER_GUID.bytes_le
    struct.pack_into("<QQQ", sector, 176, *fve_metadata_offsets(volume_size))
    sector[510:512] = b"\x55\xaa"
    return bytes(sector)


def fve_metadata_offsets(volume_size: int) -> tuple[int, int, int]:
    """Where the three copies of the FVE metadata lie: spread over the volume, 64 KiB aligned."""
    step = volume_size // 4 // 65536 * 65536
    return step, 2 * step, 3 * step


def fve_metadata_header(volume_size: int, offsets: tuple[int, int, int]) -> bytes:
    """The FVE metadata block header (version 2) that each of the three offsets points to."""
    return FVE_SIGNATURE + struct.pack("<HHHHQIIQQQQ", 0, 2, 0, 0, volume_size, 0, 16, *offsets, 0)
