"""Linux OS tests, by reading files of the root file system (no mount, no root, no VM boot)."""

from __future__ import annotations

import fnmatch
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass

from . import versions as v
from .catalog import name_of
from .ext4 import Ext4
from .findings import Finding, ImageError, failed, judged, passed, warned
from .linux_kernel import check_kernel, check_kernel_parameters, text
from .linux_kernel import kernel_version as kernel_version  # re-exported: the certifier imports it from here
from .linux_kernel import syslinux_append as syslinux_append  # and the tests this one
from .linux_threats import check_security_threats

_LIB_DIRS = ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib")
_ELF_CANDIDATES = ("/usr/bin/bash", "/bin/bash", "/usr/bin/python3", "/usr/sbin/sshd", "/usr/bin/ls", "/bin/sh")
_AGENT_SOURCES = ("/usr/lib/python3/dist-packages", "/usr/lib/python2.7/dist-packages",
                  "/usr/lib/python3.6/site-packages", "/usr/lib/python2.7/site-packages")
_X86_64 = 0x3E


@dataclass(frozen=True)
class LinuxContext:
    fs: Ext4
    swap_partitions: list[str]  # "partition 2 (type 0x82)" etc., found by the disk layer
    root_partitions: list[str]


def homes(fs: Ext4) -> list[str]:
    return ["/root"] + [f"/home/{name}" for name in sorted(fs.list_path("/home"))[:1000]]


def check_bash_history(c: LinuxContext) -> Finding:
    sizes = {}
    for home in homes(c.fs):
        found = c.fs.lookup(f"{home}/.bash_history")
        if found is not None and found.is_file and found.size:
            sizes[f"{home}/.bash_history"] = found.size
    actual = "; ".join(f"{p}: {n} bytes" for p, n in sizes.items()) or "no history left"
    required = "no bash history (at most 1 KB)"
    if any(n > 1024 for n in sizes.values()):
        return failed("linux.bash_history", name_of("linux.bash_history"), actual, required)
    if sizes:
        return warned("linux.bash_history", name_of("linux.bash_history"), actual, required)
    return passed("linux.bash_history", name_of("linux.bash_history"), actual, required)


def installed_agent(fs: Ext4) -> str | None:
    found = [d for d in (v.agent_dir_version(n) for n in fs.list_path("/var/lib/waagent")) if d]
    for base in _AGENT_SOURCES:
        source = fs.read_path(f"{base}/azurelinuxagent/common/version.py", 1 << 20)
        if source and (version := v.agent_version_in(source)):
            found.append(version)
    return v.newest(found)


def check_agent(c: LinuxContext) -> Finding:
    version = installed_agent(c.fs) if c.fs.lookup("/usr/sbin/waagent") else None
    required = f"waagent >= {v.REQUIRED_AGENT}"
    if version is None:
        return failed("linux.agent_version", name_of("linux.agent_version"), "waagent not installed", required)
    return judged("linux.agent_version", name_of("linux.agent_version"), v.at_least(version, v.REQUIRED_AGENT),
                  version, required)


def fstab(fs: Ext4) -> list[list[str]]:
    content = text(fs, "/etc/fstab") or ""
    return [ln.split() for ln in content.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def check_swap(c: LinuxContext) -> Finding:
    entries = [" ".join(e) for e in fstab(c.fs) if len(e) >= 3 and e[2] == "swap"]
    problems = c.swap_partitions + [f"/etc/fstab: {e}" for e in entries]
    return judged("linux.swap", name_of("linux.swap"), not problems, "; ".join(problems) or "no swap",
                  "no swap partition and no swap in /etc/fstab")


def check_root_partition(c: LinuxContext) -> Finding:
    mounts = [e for e in fstab(c.fs) if len(e) >= 2 and e[1] == "/"]
    ok = len(c.root_partitions) == 1 and len(mounts) <= 1
    actual = f"{len(c.root_partitions)} root file system(s): {', '.join(c.root_partitions)}; " \
             f"{len(mounts)} '/' entr{'y' if len(mounts) == 1 else 'ies'} in /etc/fstab"
    return judged("linux.root_partition", name_of("linux.root_partition"), ok, actual, "exactly one root partition")


def openssl_version(fs: Ext4) -> str | None:
    for d in _LIB_DIRS:
        for name in sorted(fs.list_path(d)):
            if fnmatch.fnmatch(name, "libssl.so*") or fnmatch.fnmatch(name, "libcrypto.so*"):
                data = fs.read_path(f"{d}/{name}", 8 << 20)
                if data and (version := v.openssl_version_in(data)):
                    return version
    header = fs.read_path("/usr/include/openssl/opensslv.h", 1 << 16)
    return v.openssl_version_in(header) if header else None


def check_openssl(c: LinuxContext) -> Finding:
    version, required = openssl_version(c.fs), f">= {v.REQUIRED_OPENSSL}"
    if version is None:
        return failed("linux.openssl", name_of("linux.openssl"), "no OpenSSL library found", required)
    return judged("linux.openssl", name_of("linux.openssl"), v.at_least(version, v.REQUIRED_OPENSSL),
                  version, required)


def check_python(c: LinuxContext) -> Finding:
    tid, required = "linux.python", f">= {v.REQUIRED_PYTHON}"
    present = [p for p in ("/usr/bin/python3", "/usr/bin/python", "/usr/bin/python2") if c.fs.lookup(p)]
    if not present:
        return failed(tid, name_of(tid), "no python interpreter in /usr/bin", required)
    found = [x for d in ("/usr/lib", "/usr/bin") for x in map(v.python_dir_version, c.fs.list_path(d)) if x]
    version = v.newest(found)
    if version is None:
        return warned(tid, name_of(tid), f"{present[0]} present, version not recorded in the image", required)
    return judged(tid, name_of(tid), v.at_least(version, v.REQUIRED_PYTHON), f"{present[0]}: {version}", required)


def sshd_setting(fs: Ext4, key: str, path: str = "/etc/ssh/sshd_config", depth: int = 0) -> str | None:
    """sshd keeps the first value it reads, Include files expanded where they stand."""
    content = text(fs, path) if depth < 4 else None
    for line in (content or "").splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0].lower() == "match":
            break
        if words[0].lower() == "include":
            for pattern in words[1:]:
                pattern = pattern if pattern.startswith("/") else f"/etc/ssh/{pattern}"
                folder, _, glob = pattern.rpartition("/")
                for name in sorted(fs.list_path(folder)):
                    if fnmatch.fnmatch(name, glob) and (value := sshd_setting(fs, key, f"{folder}/{name}",
                                                                                depth + 1)):
                        return value
        elif words[0].lower() == key.lower() and len(words) > 1:
            return words[1]
    return None


def check_client_alive(c: LinuxContext) -> Finding:
    tid, required = "linux.client_alive_interval", "30..235 seconds (180 recommended)"
    value = sshd_setting(c.fs, "ClientAliveInterval")
    if value is None:
        return failed(tid, name_of(tid), "not set (sshd's default 0 disables it)", required)
    ok = value.isdigit() and 30 <= int(value) <= 235
    return judged(tid, name_of(tid), ok, value, required)


def check_architecture(c: LinuxContext) -> Finding:
    tid, required = "linux.architecture", "x86_64 (ELF64, machine 0x3e)"
    for path in _ELF_CANDIDATES:
        head = c.fs.read_path(path, 64)
        if head and head[:4] == b"\x7fELF" and len(head) >= 20:
            little = head[5] == 1
            machine = int.from_bytes(head[18:20], "little" if little else "big")
            actual = f"{path}: ELF{64 if head[4] == 2 else 32}, machine 0x{machine:x}"
            return judged(tid, name_of(tid), head[4] == 2 and machine == _X86_64, actual, required)
    return failed(tid, name_of(tid), "no ELF executable found among " + ", ".join(_ELF_CANDIDATES), required)


def check_auto_update(c: LinuxContext) -> Finding:
    tid, required = "linux.auto_update", "AutoUpdate.Enabled=y in /etc/waagent.conf"
    conf = text(c.fs, "/etc/waagent.conf")
    if conf is None:
        return failed(tid, name_of(tid), "/etc/waagent.conf missing", required)
    values = [ln.split("=", 1)[1].strip() for ln in conf.splitlines() if ln.strip().startswith("AutoUpdate.Enabled=")]
    if not values:
        return warned(tid, name_of(tid), "not set (the agent's default is y)", required)
    return judged(tid, name_of(tid), values[-1].lower() == "y", f"AutoUpdate.Enabled={values[-1]}", required)


def check_credentials(c: LinuxContext) -> Finding:
    problems = []
    for line in (text(c.fs, "/etc/shadow") or "").splitlines():
        fields = line.split(":")
        if len(fields) > 1 and not fields[1].startswith(("!", "*")):
            problems.append(f"{fields[0]} has {'an empty password' if not fields[1] else 'a password hash'}")
    for home in homes(c.fs):
        for keys in ("authorized_keys", "authorized_keys2"):
            content = text(c.fs, f"{home}/.ssh/{keys}") or ""
            if any(ln.strip() and not ln.lstrip().startswith("#") for ln in content.splitlines()):
                problems.append(f"{home}/.ssh/{keys} holds keys")
    return judged("linux.default_credentials", name_of("linux.default_credentials"), not problems,
                  "; ".join(problems) or "no usable password, no authorized key",
                  "every password locked (! or *) and no authorized_keys")


def check_generalized(c: LinuxContext) -> Finding:
    problems = [f"/etc/ssh/{n}" for n in sorted(c.fs.list_path("/etc/ssh")) if fnmatch.fnmatch(n, "ssh_host_*key*")]
    machine_id = (text(c.fs, "/etc/machine-id") or "").strip()
    if machine_id and machine_id != "uninitialized":
        problems.append(f"/etc/machine-id = {machine_id[:32]}")
    return judged("linux.generalized", name_of("linux.generalized"), not problems,
                  "; ".join(problems) or "no host keys, empty machine id",
                  "no SSH host keys, empty or absent /etc/machine-id")


CHECKS: list[tuple[str, Callable[[LinuxContext], Finding]]] = [
    ("linux.bash_history", check_bash_history), ("linux.agent_version", check_agent),
    ("linux.kernel_parameters", check_kernel_parameters), ("linux.swap", check_swap),
    ("linux.root_partition", check_root_partition), ("linux.openssl", check_openssl),
    ("linux.python", check_python), ("linux.client_alive_interval", check_client_alive),
    ("linux.architecture", check_architecture), ("linux.auto_update", check_auto_update),
    ("linux.security_threats", lambda c: check_security_threats(c.fs)), ("linux.kernel_version", check_kernel),
    ("linux.default_credentials", check_credentials),
    ("linux.generalized", check_generalized),
]


def run_checks(c: LinuxContext) -> list[Finding]:
    out = []
    for test_id, check in CHECKS:
        try:
            out.append(check(c))
        except (ImageError, ValueError, struct.error) as exc:
            # A corrupted structure fails this test with the reason; the others still run.
            why = exc.message if isinstance(exc, ImageError) else f"{type(exc).__name__}: {exc}"
            out.append(failed(test_id, name_of(test_id), f"cannot read the file system: {why}",
                              "a readable root file system"))
    return out


def os_name(fs: Ext4) -> str | None:
    try:
        release = text(fs, "/etc/os-release") or ""
    except ImageError:
        return None
    m = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', release, re.M)
    return m.group(1) if m else None
