"""Linux kernel tests: the boot loader's kernel command line (test 40) and the TCP SACK fixes (test 52)."""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING

from . import versions as v
from .catalog import name_of
from .ext4 import Ext4
from .findings import Finding, failed, judged, passed, warned

if TYPE_CHECKING:
    from .linux import LinuxContext

_SYSLINUX_CONFIGS = ("/boot/extlinux/extlinux.conf", "/extlinux.conf", "/boot/syslinux/syslinux.cfg",
                     "/boot/syslinux/extlinux.conf", "/syslinux/syslinux.cfg", "/syslinux.cfg")


def text(fs: Ext4, path: str, limit: int = 1 << 20) -> str | None:
    data = fs.read_path(path, limit)
    return None if data is None else data.decode("utf-8", "replace")


def kernel_cmdline(fs: Ext4) -> tuple[str, list[str]] | None:
    grub = text(fs, "/etc/default/grub")
    if grub is not None:
        params: list[str] = []
        for line in grub.splitlines():
            m = re.match(r"\s*GRUB_CMDLINE_LINUX(?:_DEFAULT)?=(.*)", line)
            if m:
                try:
                    params += " ".join(shlex.split(m.group(1))).split()
                except ValueError:
                    params += m.group(1).strip("\"'").split()
        return "/etc/default/grub", params
    for cfg in ("/boot/grub/grub.cfg", "/boot/grub2/grub.cfg"):
        content = text(fs, cfg, 4 << 20)
        if content is not None:
            lines = [ln.split()[2:] for ln in content.splitlines() if ln.strip().startswith(("linux ", "linux16 "))]
            return cfg, lines[0] if lines else []
    for cfg in _SYSLINUX_CONFIGS:
        content = text(fs, cfg)
        if content is not None:
            return cfg, syslinux_append(content)
    return None


def syslinux_append(content: str) -> list[str]:
    """The APPEND words EXTLINUX/SYSLINUX boots with: the DEFAULT label's, else the global one, else the first."""
    default: str | None = None
    label: str | None = None
    appends: dict[str | None, list[str]] = {}
    for line in content.splitlines():
        key, rest = [*line.split(None, 1), "", ""][:2]
        key = key.lower()
        if key == "default":
            default = rest.split()[0] if rest.split() else None
        elif key == "label":
            label = rest.strip()
        elif key == "append":
            appends.setdefault(label, rest.split())  # keywords are case-insensitive; the first APPEND counts
    return appends.get(default) or appends.get(None) or next(iter(appends.values()), [])


def check_kernel_parameters(c: LinuxContext) -> Finding:
    tid, required = "linux.kernel_parameters", "console=ttyS0 earlyprintk=ttyS0 (rootdelay=300 recommended)"
    found = kernel_cmdline(c.fs)
    if found is None:
        return failed(tid, name_of(tid), "no boot loader configuration (/etc/default/grub, grub.cfg, "
                      "extlinux.conf, syslinux.cfg)", required)
    where, params = found
    actual = f"{where}: {' '.join(params) or '(empty)'}"
    if not {"console=ttyS0", "earlyprintk=ttyS0"} <= set(params):
        return failed(tid, name_of(tid), actual, required)
    if "rootdelay=300" not in params:
        return warned(tid, name_of(tid), actual, required)
    return passed(tid, name_of(tid), actual, required)


def kernel_version(fs: Ext4) -> str | None:
    names = [n.removeprefix("vmlinuz-") for n in fs.list_path("/boot") if n.startswith("vmlinuz-")]
    return v.newest(names or list(fs.list_path("/lib/modules")) or list(fs.list_path("/usr/lib/modules")))


def check_kernel(c: LinuxContext) -> Finding:
    tid = "linux.kernel_version"
    kernel = kernel_version(c.fs)
    if kernel is None:
        return failed(tid, name_of(tid), "no kernel in /boot or /lib/modules", "a kernel with the SACK fixes")
    minimum = v.sack_minimum(kernel)
    if minimum is None:
        return warned(tid, name_of(tid), kernel, "no known minimum for this kernel series: check it by hand")
    if minimum == "":
        return passed(tid, name_of(tid), kernel, f">= {'.'.join(map(str, v.FIRST_FIXED_SERIES))}")
    return judged(tid, name_of(tid), v.at_least(kernel, minimum), kernel, f">= {minimum}")
