"""The root tree of the test Linux image: a generalized, Azure-ready Ubuntu 22.04, as files keyed by image path.

Only what the certification tests look at is present, with the contents, modes and owners a real cloud image
has; the filesystem step (``ext4.py``) turns the materialised tree into an ext4 volume.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from tests.images.errors import BuilderError
from tests.images.packages import JAMMY_FIXED, dpkg_status

KERNEL_VERSION: Final = "5.15.0-1051-azure"
AGENT_VERSION: Final = "2.9.1.1"

_SHADOW_GID: Final = 42  # Debian/Ubuntu "shadow" group

Tree = Mapping[str, bytes]


def elf64_header(e_type: int) -> bytes:
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
        "/usr/bin/python3": elf64_header(e_type=3),
        "/usr/bin/bash": elf64_header(e_type=3),
        "/usr/lib/python3.10/os.py": b"",
        "/usr/lib/x86_64-linux-gnu/libssl.so.3": elf64_header(e_type=3) + b"OpenSSL 3.0.2 15 Mar 2022\0",
        "/usr/include/openssl/opensslv.h": _OPENSSLV_H,
        "/var/lib/dpkg/status": dpkg_status(JAMMY_FIXED),  # every curated advisory fixed (test 50)
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
# Group owners other than root; public because ownership is set by the filesystem step, after mkfs.
OWNER_GROUPS: Final[Mapping[str, int]] = {"/etc/shadow": _SHADOW_GID}


def merge_tree(overrides: Mapping[str, bytes | None] | None) -> dict[str, bytes]:
    """The default tree with `overrides` applied: new content per path, or None to remove a file."""
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


def write_tree(root: Path, tree: Tree) -> list[str]:
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
