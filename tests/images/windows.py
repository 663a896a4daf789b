"""Windows Server 2016-shaped OS disks for the certifier's Windows tests, cached outside the repository.

``build_windows(variant)`` returns a fixed VHD of 30 GiB (the smallest Windows OS disk the marketplace takes): an
MBR with one NTFS partition (type 0x07) at sector 2048 made by mkntfs and filled through ntfs-3g with what the
Windows tests read:

- ``Windows/System32/ntoskrnl.exe`` and ``Windows/System32/drivers/srv.sys``: PE32+ x86-64 images with a
  VERSIONINFO resource, compiled by mingw-w64 (``pe.py``);
- ``Windows/System32/config/SYSTEM``: a registry hive written by hivex (``regf.py``) with ``Select\\Current = 1``
  and ``ControlSet001\\Control\\Terminal Server\\fDenyTSConnections = 0``. ``ControlSet002``, the last known good
  set, still denies RDP as it did before the publisher enabled it: a reader that ignored ``Select`` would fail.

Each other variant (``VARIANTS``) has exactly one defect, except ``system-reserved``: the good installation in
Windows Setup's layout, a 500 MiB "System Reserved" boot partition (a BCD hive) before the Windows partition.
The disk is sparse: about 70 MiB on disk (mkntfs' $LogFile, $MFT and bitmaps), never the 30 GiB it declares.
Building needs root (a FUSE mount), ntfs-3g, mingw-w64 and hivex; images are cached in ``$OFFERFLOW_IMAGE_CACHE``
or ``~/.cache/offerflow/images``, named by a hash of this recipe's source, and built under a lock.

CLI: ``python -m tests.images.windows OUT_DIR [--variant NAME ...]`` builds (or reuses) them, prints their paths.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from tests.images import cache, ntfs, pe, regf, vhd
from tests.images.cache import cache_root
from tests.images.errors import BuilderError

__all__ = ["DISK_SIZE", "FILES", "VARIANTS", "WindowsRecipe", "build_windows", "main", "recipe_key"]

GIB: Final = 1024 * vhd.MIB
DISK_SIZE: Final = 30 * GIB  # the Windows OS-disk minimum of disk.size_limit
START_LBA: Final = vhd.PARTITION_START_LBA
KERNEL: Final = "Windows/System32/ntoskrnl.exe"
SRV: Final = "Windows/System32/drivers/srv.sys"
SYSTEM_HIVE: Final = "Windows/System32/config/SYSTEM"
FILES: Final = (KERNEL, SRV, SYSTEM_HIVE)
SERVER_2016: Final = "10.0.14393.953"  # March 2017 cumulative update: the first srv.sys fixing MS17-010
TERMINAL_SERVER: Final = "Control\\Terminal Server"
SYSTEM_RESERVED: Final = 500 * vhd.MIB  # as recent Windows Setup makes it


@dataclass(frozen=True)
class WindowsRecipe:
    """What one disk holds; a variant is the good recipe with one field changed."""

    kernel_bits: int = 64
    kernel_version: str = SERVER_2016
    srv_version: str = SERVER_2016
    current_control_set: int = 1
    deny_rdp: tuple[tuple[int, int], ...] = ((1, 0), (2, 1))  # (control set, fDenyTSConnections)
    bitlocker: bool = False
    system_reserved: bool = False  # Windows Setup's layout: a boot partition before C:

    def hive_keys(self) -> dict[str, dict[str, regf.Value]]:
        keys: dict[str, dict[str, regf.Value]] = {
            "Select": {"Current": ("dword", self.current_control_set), "Default": ("dword", self.current_control_set),
                       "Failed": ("dword", 0), "LastKnownGood": ("dword", 2)}}
        for number, deny in self.deny_rdp:
            keys[f"ControlSet{number:03d}\\{TERMINAL_SERVER}"] = {"fDenyTSConnections": ("dword", deny)}
        return keys


GOOD: Final = WindowsRecipe()
VARIANTS: Final[dict[str, tuple[WindowsRecipe, str | None]]] = {
    # name -> (recipe, the one Windows test it must fail)
    "good": (GOOD, None),
    "kernel-32bit": (replace(GOOD, kernel_bits=32), "windows.architecture"),
    # Server 2016's release build, before MS17-010.
    "old-srv": (replace(GOOD, srv_version="10.0.14393.447"), "windows.srv_sys"),
    "rdp-denied": (replace(GOOD, deny_rdp=((1, 1), (2, 1))), "windows.rdp"),
    "bitlocker": (replace(GOOD, bitlocker=True), "windows.bitlocker"),
    # Passes like good: the certifier must find Windows on partition 2, not stop at the boot partition.
    "system-reserved": (replace(GOOD, system_reserved=True), None),
}


def recipe_key() -> str:
    """A hash of the modules that make the disks: a changed recipe gives new file names, hence a rebuild."""
    return cache.recipe_key((sys.modules[__name__], ntfs, pe, regf, vhd))


def build_windows(variant: str = "good", *, cache_dir: Path | None = None) -> Path:
    """The cached VHD of `variant`, built first if the cache does not hold it for this recipe."""
    if variant not in VARIANTS:
        raise BuilderError(f"unknown variant {variant!r}; one of {', '.join(VARIANTS)}")
    root = cache_root(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = _path(root, variant)
    if final.exists():
        return final
    with _lock(root):
        if final.exists():  # built by the process that held the lock before us
            return final
        for stale in root.glob(".windows-*"):  # left by a killed build: nobody else builds while we lock
            _remove_work(stale)
        work = Path(tempfile.mkdtemp(prefix=f".windows-{variant}-", dir=root))
        try:
            tmp = work / final.name
            build_disk(tmp, VARIANTS[variant][0], work)
            os.replace(tmp, final)  # atomic: a reader sees no image or a whole one
        finally:
            _remove_work(work)
        for stale in root.glob(f"windows2016-{variant}-*.vhd"):
            if stale != final:
                stale.unlink(missing_ok=True)
    return final


def _remove_work(work: Path) -> None:
    mnt = work / "mnt"
    if os.path.ismount(mnt):  # a build killed while its volume was mounted
        subprocess.run([ntfs.tool("umount"), "-l", str(mnt)], capture_output=True, check=False)
    shutil.rmtree(work, ignore_errors=True)


def _path(root: Path, variant: str) -> Path:
    return root / f"windows2016-{variant}-{recipe_key()}.vhd"


def _lock(root: Path) -> contextlib.AbstractContextManager[None]:
    return cache.build_lock(root / ".windows.lock")


def volume_files(recipe: WindowsRecipe, work: Path) -> dict[str, bytes]:
    """The files of the Windows installation, by path on the volume."""
    kernel = pe.PeSpec("ntoskrnl.exe", recipe.kernel_version, "NT Kernel & System", recipe.kernel_bits)
    srv = pe.PeSpec("srv.sys", recipe.srv_version, "Server driver (SMBv1)", subtype=pe.VFT2_DRV_NETWORK)
    hive = regf.build_hive(work / "SYSTEM", recipe.hive_keys())
    return {KERNEL: pe.build_pe(kernel, work / "pe"), SRV: pe.build_pe(srv, work / "pe"),
            SYSTEM_HIVE: hive.read_bytes()}


def _layout(recipe: WindowsRecipe, size: int) -> list[tuple[int, int]]:
    """(start LBA, sectors) of each NTFS partition; the Windows volume is the last."""
    if size % vhd.MIB:
        raise BuilderError(f"disk size must be whole MiB, got {size}")
    end = size // vhd.SECTOR
    if not recipe.system_reserved:
        return [(START_LBA, end - START_LBA)]
    windows_at = START_LBA + SYSTEM_RESERVED // vhd.SECTOR
    return [(START_LBA, windows_at - START_LBA), (windows_at, end - windows_at)]


def _mbr(partitions: list[tuple[int, int]]) -> bytes:
    """The MBR: the first partition active (it holds the boot manager), every one of type 0x07."""
    sector = bytearray(vhd.mbr_sector(*partitions[0], bootable=True))
    for slot, (start, count) in enumerate(partitions[1:], 1):
        # CHS saturated (beyond cylinder 1023 at 30 GiB): only the LBA fields count.
        sector[446 + 16 * slot : 462 + 16 * slot] = struct.pack("<B3sB3sII", 0, b"\xfe\xff\xff", 0,
                                                                b"\xfe\xff\xff", start, count)
    for slot in range(len(partitions)):
        sector[446 + 16 * slot + 4] = ntfs.NTFS_PARTITION_TYPE
    return bytes(sector)


def build_disk(out: Path, recipe: WindowsRecipe, work: Path, size: int = DISK_SIZE) -> Path:
    """Build the disk of `recipe` at `out` (plus its 512-byte footer), using `work` as scratch space."""
    partitions = _layout(recipe, size)
    contents = [volume_files(recipe, work)]
    if recipe.system_reserved:
        bcd = regf.build_hive(work / "BCD", {"Description": {"KeyName": ("string", "BCD00000000")}, "Objects": {}},
                              name="BCD")
        contents.insert(0, {"Boot/BCD": bcd.read_bytes()})
    out.unlink(missing_ok=True)
    with open(out, "wb") as f:
        f.truncate(size)  # sparse: only the volumes' data extents are ever written
    for index, ((start, sectors), files) in enumerate(zip(partitions, contents, strict=True)):
        volume = work / f"volume{index}.ntfs"
        label = "System Reserved" if len(partitions) > 1 and index == 0 else "Windows"
        ntfs.make_volume(volume, sectors * vhd.SECTOR, start, label)
        with ntfs.mounted(volume, work / "mnt") as mnt:
            ntfs.write_files(mnt, files)
        if recipe.bitlocker and index == len(partitions) - 1:
            _encrypt_header(volume, sectors * vhd.SECTOR, start)
        ntfs.copy_extents(volume, out, start * vhd.SECTOR)
        volume.unlink()
    with open(out, "r+b") as f:
        f.write(_mbr(partitions))
        f.seek(size)
        f.write(vhd.vhd_footer(size))
    return out


def _encrypt_header(volume: Path, volume_size: int, start_lba: int) -> None:
    """What BitLocker leaves readable: its own boot sector and the FVE metadata headers it points to.

    The NTFS structures behind them stay as they were; the certifier must stop at the boot sector anyway.
    """
    offsets = ntfs.fve_metadata_offsets(volume_size)
    with open(volume, "r+b") as f:
        f.write(ntfs.bitlocker_boot_sector(start_lba, volume_size))
        for at in offsets:
            f.seek(at)
            f.write(ntfs.fve_metadata_header(volume_size, offsets))


def main(argv: list[str] | None = None) -> int:
    return cache.variants_main(argv, __doc__, VARIANTS, build_windows)


if __name__ == "__main__":
    raise SystemExit(main())
