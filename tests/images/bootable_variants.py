"""The plumbing of the bootable images (commands, loop devices, this machine's Debian mirror) and the failing
variants derived from the good one.

Each variant is the good disk copied, its partition loop-mounted and one thing broken (or, for ``floor``, replaced
by a tiny init), so a variant costs seconds and differs from ``good`` in exactly the property it is named after.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tests.images.errors import BuilderError
from tests.images.vhd import PARTITION_START_LBA, SECTOR

PARTITION_OFFSET: Final = PARTITION_START_LBA * SECTOR
EXTLINUX_CONF: Final = "boot/extlinux/extlinux.conf"
FLOOR_INIT: Final = "/usr/local/sbin/offerflow-floor"
FLOOR_LINE: Final = "offerflow-floor-ready"
MBR_BOOT_CODE: Final = 440  # bytes 0..439; the disk signature and the partition table follow
_SBIN: Final = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def log(message: str) -> None:
    print(f"bootable: {message}", file=sys.stderr, flush=True)


def tool(name: str) -> str:
    found = shutil.which(name, path=_SBIN)
    if found is None:
        raise BuilderError(f"{name} is not installed (scripts/install installs it)")
    return found


def run(*args: str | os.PathLike[str], log_file: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a command; on failure raise with its last output lines (the whole output goes to ``log_file``)."""
    cmd = [str(a) for a in args]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if log_file is not None:
        with log_file.open("a") as f:
            f.write(f"$ {' '.join(cmd)}\n{result.stdout}{result.stderr}\n")
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise BuilderError(f"{' '.join(cmd[:4])} ... exited {result.returncode}:\n{tail}")
    return result.stdout


@dataclass(frozen=True)
class AptEntry:
    uri: str
    suite: str
    components: tuple[str, ...]
    signed_by: str | None


@dataclass(frozen=True)
class DebianSources:
    """The Debian entries of this machine's apt configuration for one release (main, updates, security)."""

    mirror: str  # the one serving the release itself: debootstrap's mirror
    entries: tuple[AptEntry, ...]

    def sources_list(self) -> str:
        lines = []
        for e in self.entries:
            options = f"[signed-by={e.signed_by}] " if e.signed_by else ""
            lines.append(f"deb {options}{e.uri} {e.suite} {' '.join(e.components)}")
        return "\n".join(lines) + "\n"


def _deb822(text: str) -> Iterator[AptEntry]:
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                yield AptEntry(uri, suite, tuple(fields.get("components", "").split()), fields.get("signed-by"))


def _one_line(text: str) -> Iterator[AptEntry]:
    for line in text.splitlines():
        m = re.match(r"\s*deb\s+(?:\[([^]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)", line)
        if m:
            signed = re.search(r"signed-by=(\S+)", m.group(1) or "")
            yield AptEntry(m.group(2), m.group(3), tuple(m.group(4).split()), signed.group(1) if signed else None)


def debian_sources(suite: str, apt_dir: Path = Path("/etc/apt")) -> DebianSources:
    """Read at build time, so no mirror host is written in the project."""
    entries: list[AptEntry] = []
    for path in [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]:
        if path.is_file():
            entries += _one_line(path.read_text())
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        entries += _deb822(path.read_text())
    ours = tuple(AptEntry(e.uri, e.suite, ("main",), e.signed_by) for e in entries
                 if (e.suite == suite or e.suite.startswith(f"{suite}-")) and "main" in e.components)
    mirror = next((e.uri for e in ours if e.suite == suite), None)
    if mirror is None:
        raise BuilderError(f"no 'deb ... {suite} main' entry in {apt_dir}: the builder needs a Debian {suite} mirror")
    return DebianSources(mirror, ours)


def unmount_under(work: Path) -> None:
    """Lazily unmount everything below ``work``, deepest first, so removing it can never reach a bound /dev."""
    with open("/proc/self/mounts") as f:
        points = [line.split()[1].replace("\\040", " ") for line in f]
    for point in sorted((p for p in points if p.startswith(f"{work}/")), key=len, reverse=True):
        subprocess.run([tool("umount"), "--lazy", point], check=False)


def remove_work(work: Path) -> None:
    unmount_under(work)
    for image in work.glob("*.vhd"):  # loop devices a killed build left attached
        for line in run(tool("losetup"), "--associated", image).splitlines():
            subprocess.run([tool("losetup"), "--detach", line.split(":")[0]], check=False)
    shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def loop_device(image: Path, size: int) -> Iterator[str]:
    """The partition of ``image`` (``size`` bytes at sector 2048) as a loop device; no partx or udev needed."""
    dev = run(tool("losetup"), "--find", "--show", "--offset", str(PARTITION_OFFSET), "--sizelimit", str(size),
              image).strip()
    try:
        yield dev
    finally:
        subprocess.run([tool("losetup"), "--detach", dev], check=False)


@contextlib.contextmanager
def mounted(device: str, work: Path) -> Iterator[Path]:
    target = Path(tempfile.mkdtemp(prefix="mnt-", dir=work))
    run(tool("mount"), "-t", "ext4", device, target)
    try:
        yield target
    finally:
        subprocess.run([tool("umount"), target], check=False)
        target.rmdir()


@contextlib.contextmanager
def mounted_partition(image: Path, partition_size: int, work: Path) -> Iterator[Path]:
    with loop_device(image, partition_size) as dev, mounted(dev, work) as root:
        yield root
    # fsck after the edit: a variant must differ from good in its one defect, not in file-system damage.
    with loop_device(image, partition_size) as dev:
        done = subprocess.run([tool("e2fsck"), "-fy", dev], capture_output=True, text=True, check=False)
        if done.returncode not in (0, 1):
            raise BuilderError(f"e2fsck after editing {image.name} exited {done.returncode}: {done.stdout[-2000:]}")


def extlinux_conf(root_partition_uuid: str, kernel: str, extra: str = "") -> str:
    """The boot loader configuration; the check of the kernel parameters reads its APPEND line."""
    append = f"root=UUID={root_partition_uuid} ro console=ttyS0 earlyprintk=ttyS0 {extra}".strip()
    return (
        "SERIAL 0 115200\nDEFAULT debian\nPROMPT 0\nTIMEOUT 0\n\n"
        f"LABEL debian\n  LINUX /boot/vmlinuz-{kernel}\n  INITRD /boot/initrd.img-{kernel}\n  APPEND {append}\n"
    )


def _edit_append(root: Path, change: Callable[[str], str]) -> None:
    conf = root / EXTLINUX_CONF
    text = conf.read_text()
    new, count = re.subn(r"^(\s*APPEND\s+)(.*)$", lambda m: m.group(1) + change(m.group(2)), text, flags=re.M)
    if count != 1:
        raise BuilderError(f"{EXTLINUX_CONF} has {count} APPEND lines, expected 1")
    conf.write_text(new)


def _no_init(root: Path) -> None:
    # /sbin is a link into /usr on Debian 12; remove the init link and systemd itself, which it points to.
    for path in ("usr/sbin/init", "usr/lib/systemd/systemd"):
        target = root / path
        if not target.is_symlink() and not target.exists():
            raise BuilderError(f"/{path} is missing from the good image")
        target.unlink()


def _bad_root(root: Path) -> None:
    _edit_append(root, lambda a: re.sub(r"root=UUID=\S+", f"root=UUID={uuid.uuid4()}", a))


def _no_sshd(root: Path) -> None:
    # dpkg itself, inside the image, so the package database agrees with the files (waagent depends on sshd:
    # --force-depends leaves it installed).
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    run(tool("chroot"), root, "dpkg", "--purge", "--force-depends", "openssh-server", "openssh-sftp-server", env=env)
    if (root / "usr/sbin/sshd").exists():
        raise BuilderError("/usr/sbin/sshd is still there after purging openssh-server")


def _rootdelay(root: Path) -> None:
    _edit_append(root, lambda a: f"{a} rootdelay=20")


def _floor(root: Path) -> None:
    script = root / FLOOR_INIT.lstrip("/")
    script.parent.mkdir(parents=True, exist_ok=True)
    # The initramfs has moved /proc into the root before running this; mount it anyway if it is not there.
    script.write_text(
        "#!/bin/sh\n"
        "# The benchmark's floor: the cheapest possible boot of this kernel and initramfs, then power off.\n"
        "[ -e /proc/sysrq-trigger ] || mount -t proc proc /proc\n"
        f"echo {FLOOR_LINE} > /dev/console\n"
        "echo o > /proc/sysrq-trigger\n"
        "sleep 5\n"
        "poweroff -f\n"
    )
    script.chmod(0o755)
    _edit_append(root, lambda a: f"{a} init={FLOOR_INIT}")


FILE_EDITS: Final[dict[str, Callable[[Path], None]]] = {
    "no-init": _no_init,
    "bad-root": _bad_root,
    "no-sshd": _no_sshd,
    "rootdelay": _rootdelay,
    "floor": _floor,
}
VARIANTS: Final = ("good", "no-bootloader", *FILE_EDITS)


def partition_size(image: Path) -> int:
    """The byte size of partition 1, from the MBR of ``image``."""
    with image.open("rb") as f:
        mbr = f.read(SECTOR)
    return int.from_bytes(mbr[446 + 12 : 446 + 16], "little") * SECTOR


def derive(good: Path, variant: str, out: Path, work: Path) -> None:
    """Write ``variant`` to ``out`` from the ``good`` VHD (same size, same footer layout)."""
    log(f"deriving {variant} from {good.name}")
    run(tool("cp"), "--sparse=always", "--reflink=auto", good, out)  # sparse: seven variants, not seven GiB
    if variant == "no-bootloader":
        with out.open("r+b") as f:
            f.write(bytes(MBR_BOOT_CODE))  # the partition table and 0x55AA stay: only the code is gone
        return
    edit = FILE_EDITS.get(variant)
    if edit is None:
        raise BuilderError(f"unknown variant {variant!r}; one of {', '.join(VARIANTS)}")
    with mounted_partition(out, partition_size(out), work) as root:
        edit(root)
