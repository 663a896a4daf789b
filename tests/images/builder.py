"""Builds small but real Linux fixed VHDs for certification tests, without root.

The disk is a sparse raw file: an MBR written here, one bootable Linux
partition at sector 2048 holding an ext4 filesystem made by ``mkfs.ext4 -d``
from a prepared tree, then a fixed VHD footer. Only e2fsprogs and the standard
library are needed. The footer and MBR encoders are written independently of
``offerflow_certification.image`` on purpose: a shared bug must not let the
inspector and its fixtures agree with each other.

CLI: ``python -m tests.images.builder OUT.vhd [--size-mib N] [--variant NAME]``
(or ``python builder.py ...``: the module has no package imports). The OS-level variants, one per
certification test, are in ``os_variants.py`` and are offered by the same CLI when run with ``-m``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Final, TypedDict

MIB: Final = 1024 * 1024
SECTOR: Final = 512
FOOTER_SIZE: Final = 512
PARTITION_START_LBA: Final = 2048
DEFAULT_SIZE_MIB: Final = 32
LINUX_PARTITION_TYPE: Final = 0x83
KERNEL_VERSION: Final = "5.15.0-1051-azure"
AGENT_VERSION: Final = "2.9.1.1"

_FS_BLOCK: Final = 4096
_MIN_FS_SIZE: Final = 4 * MIB
_VHD_EPOCH_UNIX: Final = 946_684_800  # 2000-01-01T00:00:00Z
_FOOTER = struct.Struct(">8sIIQI4sI4sQQHBBII16sB427s")
_SHADOW_GID: Final = 42  # Debian/Ubuntu "shadow" group
_SBIN_DIRS: Final = ("/usr/sbin", "/sbin")

Tree = Mapping[str, bytes]


class BuilderError(RuntimeError):
    """The image could not be built (missing e2fsprogs, mkfs failure, bad arguments)."""


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


# --------------------------------------------------------------------------- tree


def _elf64_header(e_type: int) -> bytes:
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little endian, SysV
    return ident + struct.pack("<HHIQQQIHHHHHH", e_type, 0x3E, 1, 0, 0, 0, 0, 64, 56, 0, 64, 0, 0)


def _bzimage(version: str) -> bytes:
    # Just enough of the x86 boot protocol header for `file`-style tools to
    # read the kernel version: "HdrS" magic plus a pointer to the version string.
    image = bytearray(4096)
    image[0x1FE:0x200] = b"\x55\xaa"
    image[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", image, 0x206, 0x020F)
    struct.pack_into("<H", image, 0x20E, 0x300 - 0x200)
    banner = f"{version} (buildd@lcy02-amd64-051) #56-Ubuntu SMP\0".encode()
    image[0x300 : 0x300 + len(banner)] = banner
    return bytes(image)


_OS_RELEASE = b"""PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
UBUNTU_CODENAME=jammy
"""

_WAAGENT = b"""#!/usr/bin/python3
# Azure Linux Agent launcher
import sys
from azurelinuxagent.agent import main

if __name__ == '__main__':
    sys.exit(main())
"""

_AGENT_VERSION_PY = f"""AGENT_NAME = 'WALinuxAgent'
AGENT_VERSION = '{AGENT_VERSION}'
AGENT_LONG_VERSION = "{{0}}-{{1}}".format(AGENT_NAME, AGENT_VERSION)
""".encode()

_WAAGENT_CONF = b"""Provisioning.Agent=auto
Provisioning.DeleteRootPassword=y
Provisioning.RegenerateSshHostKeyPair=n
ResourceDisk.Format=n
ResourceDisk.EnableSwap=n
AutoUpdate.Enabled=y
Logs.Verbose=n
OS.EnableFIPS=n
"""

_GRUB_DEFAULT = b"""GRUB_DEFAULT=0
GRUB_TIMEOUT=0
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=ttyS0 earlyprintk=ttyS0 rootdelay=300"
GRUB_TERMINAL=serial
GRUB_SERIAL_COMMAND="serial --speed=115200 --unit=0 --word=8 --parity=no --stop=1"
"""

_FSTAB = b"""# <file system> <mount point> <type> <options> <dump> <pass>
LABEL=cloudimg-rootfs\t/\text4\tdiscard,errors=remount-ro\t0 1
"""

_SSHD_CONFIG = b"""Include /etc/ssh/sshd_config.d/*.conf
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM yes
X11Forwarding yes
PrintMotd no
ClientAliveInterval 180
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
"""

_PASSWD = b"""root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
syslog:x:104:111::/home/syslog:/usr/sbin/nologin
sshd:x:105:65534::/run/sshd:/usr/sbin/nologin
"""

_SHADOW = b"""root:*:19769:0:99999:7:::
daemon:*:19769:0:99999:7:::
syslog:!:19769::::::
sshd:!*:19769::::::
"""

_OPENSSLV_H = b"""#ifndef OPENSSL_OPENSSLV_H
# define OPENSSL_OPENSSLV_H
# define OPENSSL_VERSION_MAJOR  3
# define OPENSSL_VERSION_MINOR  0
# define OPENSSL_VERSION_PATCH  2
# define OPENSSL_VERSION_STR "3.0.2"
# define OPENSSL_VERSION_TEXT "OpenSSL 3.0.2 15 Mar 2022"
#endif
"""

_CLOUD_CFG = b"datasource_list: [ Azure ]\n"


def default_tree() -> dict[str, bytes]:
    """Files of a generalized, Azure-ready Ubuntu 22.04 root, keyed by absolute path."""
    return {
        "/etc/os-release": _OS_RELEASE,
        "/etc/hostname": b"localhost\n",
        "/etc/machine-id": b"",
        "/etc/passwd": _PASSWD,
        "/etc/shadow": _SHADOW,
        "/etc/fstab": _FSTAB,
        "/etc/default/grub": _GRUB_DEFAULT,
        "/etc/waagent.conf": _WAAGENT_CONF,
        "/etc/ssh/sshd_config": _SSHD_CONFIG,
        "/etc/cloud/cloud.cfg.d/90_dpkg.cfg": _CLOUD_CFG,
        "/usr/sbin/waagent": _WAAGENT,
        "/usr/lib/python3/dist-packages/azurelinuxagent/__init__.py": b"",
        "/usr/lib/python3/dist-packages/azurelinuxagent/common/__init__.py": b"",
        "/usr/lib/python3/dist-packages/azurelinuxagent/common/version.py": _AGENT_VERSION_PY,
        f"/boot/vmlinuz-{KERNEL_VERSION}": _bzimage(KERNEL_VERSION),
        "/usr/bin/python3": _elf64_header(e_type=3),
        "/usr/bin/bash": _elf64_header(e_type=3),
        "/usr/lib/python3.10/os.py": b"",
        "/usr/lib/x86_64-linux-gnu/libssl.so.3": _elf64_header(e_type=3) + b"OpenSSL 3.0.2 15 Mar 2022\0",
        "/usr/include/openssl/opensslv.h": _OPENSSLV_H,
    }


# Directories that exist even when empty; /root exists but holds no .bash_history.
_DIRECTORIES: Final[Mapping[str, int]] = {
    "/root": 0o700,
    "/home": 0o755,
    "/tmp": 0o1777,
    "/var/tmp": 0o1777,
    "/var/log": 0o755,
    "/dev": 0o755,
    "/proc": 0o555,
    "/sys": 0o555,
    "/run": 0o755,
}
_FILE_MODES: Final[Mapping[str, int]] = {
    "/etc/shadow": 0o640,
    "/usr/sbin/waagent": 0o755,
    "/usr/bin/python3": 0o755,
    "/usr/bin/bash": 0o755,
    f"/boot/vmlinuz-{KERNEL_VERSION}": 0o600,
}
_GROUPS: Final[Mapping[str, int]] = {"/etc/shadow": _SHADOW_GID}


def _merge_tree(overrides: Mapping[str, bytes | None] | None) -> dict[str, bytes]:
    tree = default_tree()
    for path, content in (overrides or {}).items():
        _check_tree_path(path)
        if content is None:
            tree.pop(path, None)
        else:
            tree[path] = content
    return tree


def _check_tree_path(path: str) -> None:
    parts = path.split("/")
    if not path.startswith("/") or path == "/" or any(p in ("", ".", "..") for p in parts[1:]):
        raise BuilderError(f"tree paths must be normalised absolute file paths, got {path!r}")


def _write_tree(root: Path, tree: Tree) -> list[str]:
    """Materialise the tree; returns every image path (dirs and files) written."""
    written: set[str] = set()
    for image_dir in _DIRECTORIES:
        (root / image_dir[1:]).mkdir(parents=True, exist_ok=True)
        written.add(image_dir)
    for image_path, content in tree.items():
        target = root / image_path[1:]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        written.add(image_path)
    for parent in {str(Path(p).parent) for p in list(written)}:
        while parent != "/":
            written.add(parent)
            parent = str(Path(parent).parent)
    # Modes are set explicitly so the caller's umask cannot leak into the image.
    for image_path in written:
        target = root / image_path[1:]
        if target.is_dir():
            target.chmod(_DIRECTORIES.get(image_path, 0o755))
        else:
            target.chmod(_FILE_MODES.get(image_path, 0o644))
    return sorted(written)


# --------------------------------------------------------------------- filesystem


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


def _make_ext4(disk: Path, tree_dir: Path, offset: int, size: int, paths: Iterable[str]) -> None:
    _run(
        [
            _tool("mkfs.ext4"),
            "-q",
            "-F",
            "-b",
            str(_FS_BLOCK),
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
        commands.append(f"set_inode_field {path} gid {_GROUPS.get(path, 0)}")
    with tempfile.NamedTemporaryFile("w", suffix=".debugfs", delete=False) as script:
        script.write("\n".join(commands) + "\n")
    try:
        _run([_tool("debugfs"), "-w", "-f", script.name, f"{disk}?offset={offset}"])
    finally:
        os.unlink(script.name)


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


# ------------------------------------------------------------------------- build


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
    fs_size = (disk_size - fs_offset) // _FS_BLOCK * _FS_BLOCK
    if fs_size < _MIN_FS_SIZE:
        raise BuilderError(f"disk of {disk_size} bytes leaves no room for an ext4 filesystem")
    if partition_sectors is None:
        partition_sectors = disk_size // SECTOR - partition_start_lba
    tree = _merge_tree(tree_overrides)
    out = Path(path)
    out.unlink(missing_ok=True)
    try:
        with open(out, "wb") as f:
            f.truncate(disk_size)  # sparse: unwritten blocks cost no disk space
        with tempfile.TemporaryDirectory(prefix="offerflow-vhd-") as tmp:
            tree_dir = Path(tmp) / "root"
            paths = _write_tree(tree_dir, tree)
            _make_ext4(out, tree_dir, fs_offset, fs_size, paths)
        with open(out, "r+b") as f:
            f.write(mbr_sector(partition_start_lba, partition_sectors))
            f.seek(disk_size)
            f.write(vhd_footer(disk_size, footer_overrides))
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return out


# ---------------------------------------------------------------------- variants


def _patch(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def _flip_checksum(path: Path) -> None:
    checksum_at = path.stat().st_size - FOOTER_SIZE + 64
    with open(path, "r+b") as f:
        f.seek(checksum_at)
        (stored,) = struct.unpack(">I", f.read(4))
        f.seek(checksum_at)
        f.write(struct.pack(">I", stored ^ 0x1))


def _variant_compliant(path: Path, size_mib: int) -> None:
    build_linux_vhd(path, size_mib=size_mib)


def _variant_wrong_cookie(path: Path, size_mib: int) -> None:
    build_linux_vhd(path, size_mib=size_mib, footer_overrides={"cookie": b"notavhd!"})


def _variant_bad_checksum(path: Path, size_mib: int) -> None:
    build_linux_vhd(path, size_mib=size_mib)
    _flip_checksum(path)


def _variant_dynamic(path: Path, size_mib: int) -> None:
    build_linux_vhd(path, size_mib=size_mib, footer_overrides={"disk_type": 3})


def _variant_truncated(path: Path, size_mib: int) -> None:
    # An interrupted upload: the tail, footer included, is missing.
    build_linux_vhd(path, size_mib=size_mib)
    os.truncate(path, path.stat().st_size - MIB)


def _variant_size_mismatch(path: Path, size_mib: int) -> None:
    build_linux_vhd(path, size_mib=size_mib, footer_overrides={"current_size": (size_mib + 1) * MIB})


def _variant_not_mib_multiple(path: Path, size_mib: int) -> None:
    build_disk(path, disk_size=size_mib * MIB + SECTOR)


def _variant_too_small(path: Path, size_mib: int) -> None:
    build_linux_vhd(path, size_mib=16)


def _variant_absurd_size(path: Path, size_mib: int) -> None:
    # ~16 EiB yet MiB-aligned, so only the file-length rule can catch it.
    build_linux_vhd(path, size_mib=size_mib, footer_overrides={"current_size": 0xFFFF_FFFF_FFF0_0000})


def _variant_partition_outside(path: Path, size_mib: int) -> None:
    disk_sectors = size_mib * MIB // SECTOR
    build_disk(path, disk_size=size_mib * MIB, partition_sectors=disk_sectors)


def _variant_partition_in_first_mib(path: Path, size_mib: int) -> None:
    # Old DOS-style alignment: the filesystem really starts at sector 63.
    build_disk(path, disk_size=size_mib * MIB, partition_start_lba=63)


def _variant_no_mbr(path: Path, size_mib: int) -> None:
    build_linux_vhd(path, size_mib=size_mib)
    _patch(path, 510, b"\0\0")


def _variant_tiny_file(path: Path, size_mib: int) -> None:
    Path(path).write_bytes(b"conectix".ljust(100, b"\0"))


VARIANTS: Final[Mapping[str, Callable[[Path, int], None]]] = {
    "compliant": _variant_compliant,
    "wrong-cookie": _variant_wrong_cookie,
    "bad-checksum": _variant_bad_checksum,
    "dynamic": _variant_dynamic,
    "truncated": _variant_truncated,
    "size-mismatch": _variant_size_mismatch,
    "not-mib-multiple": _variant_not_mib_multiple,
    "too-small": _variant_too_small,
    "absurd-size": _variant_absurd_size,
    "partition-outside": _variant_partition_outside,
    "partition-in-first-mib": _variant_partition_in_first_mib,
    "no-mbr": _variant_no_mbr,
    "tiny-file": _variant_tiny_file,
}


def build_variant(path: str | os.PathLike[str], variant: str, *, size_mib: int = DEFAULT_SIZE_MIB) -> Path:
    """Build the named variant (see `VARIANTS`) at `path`."""
    try:
        make = VARIANTS[variant]
    except KeyError:
        raise BuilderError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}") from None
    out = Path(path)
    make(out, size_mib)
    return out


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path, help="VHD file to write")
    parser.add_argument("--size-mib", type=int, default=DEFAULT_SIZE_MIB)
    os_variants: dict[str, Callable[[str | os.PathLike[str], str], Path]] = {}
    try:  # the OS variants need the package; `python builder.py` still builds the format variants
        from tests.images.os_variants import OS_VARIANTS, build_os_variant

        os_variants = dict.fromkeys(OS_VARIANTS, build_os_variant)
    except ImportError:
        pass

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
