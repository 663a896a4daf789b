"""Bootable Debian 12 test disks for the staging boot check, cached outside the repository.

``build_bootable(variant)`` returns a fixed VHD that really boots under QEMU (BIOS, generation 1): EXTLINUX's
``mbr.bin`` in the MBR, one ext4 root partition at sector 2048 holding a minimal Debian 12 with the cloud kernel,
systemd, OpenSSH, cloud-init (NoCloud), waagent and DHCP on every NIC, generalized so it passes our own offline
certification. EXTLINUX, not GRUB: GRUB's core.img would fill the first MiB after the MBR, which certification
requires empty. The failing variants are edits of the good disk (``bootable_variants.py``).

Building needs root (debootstrap, chroot, loop devices) and the Debian mirror of this machine's apt configuration.
Images are cached in ``$OFFERFLOW_IMAGE_CACHE`` or ``~/.cache/offerflow/images``, named by a hash of this recipe's
source, so changing the recipe rebuilds; a lock file keeps two processes from building at once.

CLI: ``python -m tests.images.bootable OUT_DIR [--variant NAME ...]`` builds (or reuses) them in OUT_DIR, prints paths.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from tests.images import bootable_variants, cache, vhd
from tests.images.bootable_variants import (
    VARIANTS,
    debian_sources,
    extlinux_conf,
    log,
    loop_device,
    mounted,
    remove_work,
    run,
    tool,
    unmount_under,
)
from tests.images.cache import cache_root
from tests.images.errors import BuilderError

__all__ = ["VARIANTS", "build_bootable", "cache_root", "main", "recipe_key"]

SUITE: Final = "bookworm"
PACKAGES: Final = (
    "linux-image-cloud-amd64", "initramfs-tools", "systemd", "systemd-sysv", "udev", "dbus", "openssh-server",
    "cloud-init", "python3", "waagent", "sudo", "iproute2", "netbase",
)
MAX_DISK: Final = 1024 * vhd.MIB  # provisioning copies the disk to every region: keep it small
# EXTLINUX 6.04 cannot read 64-bit ext4 and predates metadata_csum.
FS_FEATURES: Final = "^64bit,^metadata_csum"
_CHROOT_ENV: Final = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C",
                      "HOME": "/root"}
_MBR_CODE: Final = ("/usr/lib/syslinux/mbr/mbr.bin", "/usr/lib/EXTLINUX/mbr.bin", "/usr/share/syslinux/mbr.bin")

# Files written into the image, by path; each says why in the image itself where that helps its reader.
_FILES: Final[dict[str, str]] = {
    "etc/dpkg/dpkg.cfg.d/01-slim": "path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\n"
                                   "path-exclude /usr/share/info/*\npath-exclude /usr/share/locale/*\n",
    "etc/apt/apt.conf.d/01-slim": 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n',
    # No service starts inside the build chroot.
    "usr/sbin/policy-rc.d": "#!/bin/sh\nexit 101\n",
    # MODULES=most (the default) keeps virtio and Hyper-V storage drivers: the disk is found in QEMU and in the cloud.
    "etc/initramfs-tools/conf.d/offerflow": "MODULES=most\nCOMPRESS=gzip\n",
    "etc/hostname": "localhost\n",
    "etc/hosts": "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n",
    "etc/systemd/network/80-dhcp.network": "[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n",
    # NoCloud finds the cidata seed; the image's own DHCP unit configures the network, so cloud-init leaves it;
    # no locales package (C.UTF-8 only), so cloud-init must not generate one; /etc/hosts names the seed's hostname
    # (sudo warns otherwise).
    "etc/cloud/cloud.cfg.d/90-offerflow.cfg": "datasource_list: [ NoCloud, None ]\nnetwork: {config: disabled}\n"
                                              "locale: false\nmanage_etc_hosts: true\n",
    "etc/ssh/sshd_config.d/50-offerflow.conf": "ClientAliveInterval 180\n",
}


def recipe_key() -> str:
    """A hash of the modules that make the images: a changed recipe gives new file names, hence a rebuild."""
    return cache.recipe_key((sys.modules[__name__], bootable_variants, vhd), SUITE.encode())


def build_bootable(variant: str = "good", *, cache_dir: Path | None = None) -> Path:
    """The cached VHD of ``variant``, built first if the cache does not hold it for this recipe."""
    if variant not in VARIANTS:
        raise BuilderError(f"unknown variant {variant!r}; one of {', '.join(VARIANTS)}")
    root = cache_root(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    root = root.resolve()  # as /proc/self/mounts names it, to find the build's mounts again
    final = _path(root, variant)
    if final.exists():
        return final
    if os.geteuid() != 0:
        raise BuilderError("building a bootable image needs root (debootstrap, chroot, loop devices)")
    with _lock(root):
        for stale in root.glob(".build-*"):  # left by a build that was killed: nobody else builds while we lock
            remove_work(stale)
        good = _ensure(root, "good")
        return good if variant == "good" else _ensure(root, variant, good)


def _path(root: Path, variant: str) -> Path:
    return root / f"debian12-{variant}-{recipe_key()}.vhd"


def _lock(root: Path) -> contextlib.AbstractContextManager[None]:
    return cache.build_lock(root / ".build.lock", lambda: log("another process is building; waiting for it"))


def _ensure(root: Path, variant: str, good: Path | None = None) -> Path:
    final = _path(root, variant)
    if final.exists():  # built by the process that held the lock before us
        return final
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix=f".build-{variant}-", dir=root))
    try:
        tmp = work / final.name
        if good is None:
            _build_good(tmp, work, root)
        else:
            bootable_variants.derive(good, variant, tmp, work)
        os.replace(tmp, final)  # atomic: a reader sees no image or a whole one
    finally:
        remove_work(work)
    for stale in root.glob(f"debian12-{variant}-*.vhd"):
        if stale != final:
            stale.unlink(missing_ok=True)
    log(f"{variant}: {final} ({final.stat().st_size} bytes) in {time.monotonic() - started:.0f} s")
    return final


# --------------------------------------------------------------------------- the root file system


@contextlib.contextmanager
def _chroot_mounts(tree: Path, archives: Path) -> Iterator[None]:
    mounts = [(tree / "proc", ["-t", "proc", "proc"]), (tree / "sys", ["-t", "sysfs", "sysfs"]),
              (tree / "dev", ["--bind", "/dev"]), (tree / "dev/pts", ["--bind", "/dev/pts"]),
              # Downloaded packages live in the cache, so a rebuild after a recipe change downloads little.
              (tree / "var/cache/apt/archives", ["--bind", str(archives)])]
    try:
        for target, args in mounts:
            target.mkdir(parents=True, exist_ok=True)
            run(tool("mount"), *args, target)
        yield
    finally:
        unmount_under(tree)


def _chroot(tree: Path, *cmd: str, log_file: Path) -> str:
    return run(tool("chroot"), tree, *cmd, log_file=log_file, env=dict(_CHROOT_ENV))


def _write(tree: Path, rel: str, content: str, mode: int = 0o644) -> None:
    path = tree / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    path.chmod(mode)


def _make_tree(tree: Path, work: Path, cache: Path) -> str:
    """Debootstrap, install, configure and generalize the root; returns the kernel version."""
    sources = debian_sources(SUITE)
    log_file = work / "build.log"
    debs, archives = cache / "debs", cache / "apt-archives"
    (archives / "partial").mkdir(parents=True, exist_ok=True)
    debs.mkdir(parents=True, exist_ok=True)
    # minbase only: debootstrap cannot resolve cloud-init's virtual dependencies, apt inside the root can.
    log(f"debootstrap {SUITE} (minbase) from {sources.mirror}")
    run(tool("debootstrap"), "--variant=minbase", f"--cache-dir={debs}", SUITE, tree, sources.mirror,
        log_file=log_file)
    for rel, content in _FILES.items():
        _write(tree, rel, content, 0o755 if rel.startswith("usr/sbin/") else 0o644)
    _write(tree, "etc/apt/sources.list", sources.sources_list())
    with _chroot_mounts(tree, archives):
        log(f"apt-get install {' '.join(PACKAGES)}")
        _chroot(tree, "apt-get", "-q", "update", log_file=log_file)
        _chroot(tree, "apt-get", "-q", "-y", "-o", "Dpkg::Use-Pty=0", "install", *PACKAGES, log_file=log_file)
        _chroot(tree, "systemctl", "enable", "systemd-networkd", log_file=log_file)
        kernel = _kernel(tree)
        initrd = _chroot(tree, "lsinitramfs", f"/boot/initrd.img-{kernel}", log_file=log_file)
        missing = [m for m in ("virtio_blk.ko", "virtio_pci.ko") if f"/{m}" not in initrd]
        if missing:
            raise BuilderError(f"the initramfs of {kernel} lacks {', '.join(missing)}: the disk would not be found")
    conf = tree / "etc/waagent.conf"
    conf.write_text(re.sub(r"^#?\s*AutoUpdate\.Enabled=.*$", "AutoUpdate.Enabled=y", conf.read_text(), flags=re.M))
    _generalize(tree)
    return kernel


def _kernel(tree: Path) -> str:
    kernels = sorted(p.name.removeprefix("vmlinuz-") for p in (tree / "boot").glob("vmlinuz-*"))
    if len(kernels) != 1:
        raise BuilderError(f"expected one kernel in /boot, found {kernels or 'none'}")
    return kernels[0]


def _generalize(tree: Path) -> None:
    """What ``waagent -deprovision`` and a slim image remove: keys, identity, logs, caches, docs."""
    for pattern in ("etc/ssh/ssh_host_*", "var/lib/dbus/machine-id", "var/lib/cloud/*", "var/lib/apt/lists/*",
                    "var/cache/apt/*.bin", "usr/sbin/policy-rc.d", "root/.bash_history", "tmp/*", "var/tmp/*",
                    "usr/share/doc/*", "usr/share/man/*", "usr/share/info/*", "usr/share/locale/*"):
        for path in tree.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    for path in (tree / "var/log").rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.write_bytes(b"")
    # Empty, not absent: systemd then makes a fresh id at first boot and the certifier sees no id left behind.
    for rel in ("etc/machine-id", "etc/resolv.conf"):
        _write(tree, rel, "")


# --------------------------------------------------------------------------- the disk


def _disk_size(tree: Path) -> int:
    used = sum(p.lstat().st_size for p in tree.rglob("*"))
    size = -(-(used * 3 // 2 + 128 * vhd.MIB) // (64 * vhd.MIB)) * 64 * vhd.MIB + vhd.MIB
    if size > MAX_DISK:
        raise BuilderError(f"the root tree ({used} bytes) does not fit a disk of {MAX_DISK // vhd.MIB} MiB")
    return size


def _mbr_code() -> bytes:
    for candidate in _MBR_CODE:
        if Path(candidate).is_file():
            return Path(candidate).read_bytes()[: bootable_variants.MBR_BOOT_CODE]
    raise BuilderError("EXTLINUX's mbr.bin not found (install syslinux-common)")


def _build_good(out: Path, work: Path, cache: Path) -> None:
    tree = work / "root"
    kernel = _make_tree(tree, work, cache)
    root_uuid = str(uuid.uuid4())
    _write(tree, bootable_variants.EXTLINUX_CONF, extlinux_conf(root_uuid, kernel))
    _write(tree, "etc/fstab", f"UUID={root_uuid} / ext4 defaults,errors=remount-ro 0 1\n")
    size = _disk_size(tree)
    part_size = size - bootable_variants.PARTITION_OFFSET
    log(f"disk of {size // vhd.MIB} MiB, ext4 ({FS_FEATURES}) UUID {root_uuid}, EXTLINUX")
    with out.open("wb") as f:
        f.truncate(size)
    with loop_device(out, part_size) as dev:
        run(tool("mkfs.ext4"), "-q", "-F", "-L", "root", "-U", root_uuid, "-O", FS_FEATURES, "-d", tree, dev,
            log_file=work / "build.log")
        with mounted(dev, work) as mnt:
            run(tool("extlinux"), "--install", mnt / "boot/extlinux", log_file=work / "build.log")
        run(tool("e2fsck"), "-fn", dev, log_file=work / "build.log")
    sector = bytearray(vhd.mbr_sector(vhd.PARTITION_START_LBA, part_size // vhd.SECTOR, bootable=True))
    sector[: bootable_variants.MBR_BOOT_CODE] = _mbr_code()
    with out.open("r+b") as f:
        f.write(sector)
        f.seek(size)
        f.write(vhd.vhd_footer(size))


def main(argv: list[str] | None = None) -> int:
    return cache.variants_main(argv, __doc__, VARIANTS, build_bootable)


if __name__ == "__main__":
    raise SystemExit(main())
