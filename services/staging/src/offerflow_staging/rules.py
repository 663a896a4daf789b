"""Pure decisions of a boot check: console milestones, the boot sector, the checks, the summary, the deadline.

Everything here works from text and numbers, so that each rule is tested from console transcripts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from offerflow_contract.events.staging import StagingCheck

# check id, name, what is required: in the order they must happen.
CHECKS: tuple[tuple[str, str, str], ...] = (
    ("boot-loader", "Boot loader", "the firmware finds and starts a boot loader on the disk"),
    ("kernel", "Kernel", "the kernel starts (\"Linux version …\" on the serial console)"),
    ("root-fs", "Root file system", "the root file system is found and mounted"),
    ("init", "Init", "init reaches the multi-user target (or a login prompt)"),
    ("ssh", "SSH", "sshd answers on port 22 with an SSH-2.0 banner"),
    ("agent", "Provisioning agent", "the provisioning agent applies the seed (cloud-init finishes)"),
    ("login", "Login", "SSH login as the provisioned user with its key"),
)
CONSOLE_CHECKS = ("boot-loader", "kernel", "root-fs", "init")
_ORDER = [c[0] for c in CHECKS]

_LOADER_OK = re.compile(r"GRUB|Booting `|SYSLINUX|EXTLINUX|systemd-boot|Loading Linux|EFI stub", re.I)
_LOADER_FAIL = re.compile(r"Boot failed: not a bootable disk|No bootable device|Boot failed: could not read "
                          r"the boot disk|error: (no such device|unknown filesystem|file .* not found)")
_KERNEL = re.compile(r"Linux version (\S+)")
_CMDLINE = re.compile(r"Kernel command line: (.*)|Command line: (.*)")
_ROOTDELAY = re.compile(r"(?:^|\s)rootdelay=(\d+)")
_ROOT_OK = re.compile(r"EXT4-fs \(([^)]+)\): mounted filesystem|VFS: Mounted root|XFS \(([^)]+)\): Ending clean mount")
_ROOT_FAIL = re.compile(r"VFS: Unable to mount root fs|Gave up waiting for root|ALERT! .*does not exist")
# systemd stops its status lines once a getty owns the console, so the prompt is often the only sign; other
# output may follow it on the same line.
_INIT_OK = re.compile(r"Reached target .*Multi-User|^\S+ login:(\s|$)", re.I)
_INIT_FAIL = re.compile(r"No init found|Target filesystem doesn't have requested|run-init: .*No such file or "
                        r"directory|Attempted to kill init|No working init found")
_PANIC = re.compile(r"Kernel panic|Dropping to a shell")
_CLOUD_INIT_DONE = re.compile(r"Cloud-init v\. (\S+) finished")
_WAAGENT = re.compile(r"(?:walinuxagent|waagent).*(?:[Ff]ailed|wire ?server|Unable)")


@dataclass
class Seen:
    seconds: float
    line: str


@dataclass
class Milestones:
    """What the console showed, each with the seconds since power-on; fed line by line."""

    passed: dict[str, Seen] = field(default_factory=dict)
    failed: dict[str, Seen] = field(default_factory=dict)
    kernel_version: str | None = None
    rootdelay: int = 0
    cloud_init: str | None = None
    waagent_failure: str | None = None

    def pending(self, *checks: str) -> str | None:
        return next((c for c in checks if c not in self.passed and c not in self.failed), None)

    @property
    def stopped(self) -> bool:
        """A console milestone failed: the boot will not go further."""
        return bool(self.failed)

    def observe(self, line: str, seconds: float) -> None:
        def ok(check: str) -> None:
            self.passed.setdefault(check, Seen(seconds, line))

        def fail(check: str | None) -> None:
            if check and check not in self.passed:
                # initramfs-tools ends this line with a heading for the hints that follow it.
                self.failed.setdefault(check, Seen(seconds, re.sub(r"\s+Common problems:$", "", line)))

        if _LOADER_FAIL.search(line):
            fail("boot-loader")
        elif _LOADER_OK.search(line):
            ok("boot-loader")
        if m := _KERNEL.search(line):
            self.kernel_version = self.kernel_version or m.group(1)
            ok("boot-loader")
            ok("kernel")
        if (m := _CMDLINE.search(line)) and (d := _ROOTDELAY.search(m.group(1) or m.group(2) or "")):
            self.rootdelay = max(self.rootdelay, int(d.group(1)))
        if _ROOT_OK.search(line):
            ok("root-fs")
        elif _ROOT_FAIL.search(line):
            fail("root-fs")
        if _INIT_OK.search(line):
            ok("init")
        elif _INIT_FAIL.search(line):
            fail(self.pending("root-fs", "init") if "root-fs" not in self.passed and _ROOT_FAIL.search(line)
                 else "init")
        elif _PANIC.search(line) and not _ROOT_FAIL.search(line):
            fail(self.pending("kernel", "root-fs", "init"))
        if m := _CLOUD_INIT_DONE.search(line):
            self.cloud_init = f"cloud-init {m.group(1)} finished"
            ok("agent")
        if _WAAGENT.search(line):
            self.waagent_failure = line


def boot_sector_problem(sector: bytes) -> str | None:
    """Why the firmware cannot boot this disk, from its first sector alone (None: it may)."""
    if len(sector) < 512:
        return f"the disk is {len(sector)} bytes long: smaller than one sector"
    if sector[510:512] != b"\x55\xaa":
        return f"no boot signature: bytes 510-511 are {sector[510:512].hex()}, the firmware needs 55aa"
    if not any(sector[:440]):
        return "the boot code (bytes 0-439 of the first sector) is all zeros: no boot loader is installed"
    return None


def deadline_seconds(boot_timeout: float, rootdelay: int) -> float:
    """The image's own configuration may ask the kernel to wait (rootdelay=): the deadline allows for it."""
    return boot_timeout + rootdelay


@dataclass(frozen=True)
class SshProbe:
    seconds: float | None  # when the banner was read; None: never
    banner: str = ""
    error: str = ""


@dataclass(frozen=True)
class LoginResult:
    seconds: float | None
    ok: bool
    error: str = ""
    state: str = ""  # systemctl is-system-running
    failed_units: tuple[str, ...] = ()
    kernel: str = ""
    agents: tuple[str, ...] = ()  # "cloud-init 22.4.2", "waagent 2.2.49" …
    waagent: str = ""  # "" not installed; its unit's state: active, failed, inactive; skipped: its condition


@dataclass(frozen=True)
class Outcome:
    checks: list[StagingCheck]
    first_missing: str | None
    summary: str


def _s(seconds: float | None) -> str:
    return f"{seconds:.0f} s" if seconds is not None else "-"


def evaluate(m: Milestones, ssh: SshProbe, login: LoginResult | None, *, elapsed: float, deadline: float,
             timed_out: bool, static_problem: str | None = None, console_truncated: bool = False) -> Outcome:
    """The checks in order: the first one not Passed/Warning stops the list, later ones are NotRun."""
    results: dict[str, tuple[str, str, float | None]] = {}  # check id -> result, actual, seconds
    later_ok = {"ssh": ssh.seconds is not None, "login": bool(login and login.ok)}
    if static_problem:
        results["boot-loader"] = ("Failed", static_problem, 0.0)
    for check in CONSOLE_CHECKS:
        if check in results:
            break
        if check in m.failed:
            results[check] = ("Failed", m.failed[check].line, m.failed[check].seconds)
        elif check in m.passed:
            seen = m.passed[check]
            actual = f"Linux {m.kernel_version}" if check == "kernel" and m.kernel_version else seen.line
            if check == "root-fs" and m.rootdelay:
                results[check] = ("Warning", f"{actual}; the kernel command line asks rootdelay={m.rootdelay}: "
                                  "every boot waits that long, rootwait waits only for the disk", seen.seconds)
            else:
                results[check] = ("Passed", actual, seen.seconds)
        elif any(m.passed.get(c) for c in _ORDER[_ORDER.index(check) + 1:]) or any(later_ok.values()):
            results[check] = ("Passed", "not shown on the console; a later milestone was reached", None)
        else:
            results[check] = ("Failed", _not_seen(elapsed, timed_out, deadline), None)
    if all(results[c][0] in ("Passed", "Warning") for c in CONSOLE_CHECKS if c in results) and \
            len(results) == len(CONSOLE_CHECKS):
        _network_checks(results, m, ssh, login, elapsed, timed_out, deadline)
    checks, first_missing = [], None
    for check_id, name, required in CHECKS:
        result, actual, seconds = results.get(check_id, ("NotRun", "", None))
        if first_missing is not None:
            result, actual, seconds = "NotRun", "", None
        elif result not in ("Passed", "Warning"):
            first_missing = check_id
        checks.append(StagingCheck(check_id=check_id, name=name, result=result,
                                   actual=actual, required=required, seconds=seconds))
    return Outcome(checks, first_missing, summary(checks, first_missing, m, ssh, timed_out=timed_out,
                                                  deadline=deadline, console_truncated=console_truncated))


def _not_seen(elapsed: float, timed_out: bool, deadline: float) -> str:
    if timed_out:
        return f"not seen before the {deadline:.0f} s deadline (the VM was stopped)"
    return f"not seen; the boot ended after {elapsed:.0f} s"


def _network_checks(results: dict[str, tuple[str, str, float | None]], m: Milestones, ssh: SshProbe,
                    login: LoginResult | None, elapsed: float, timed_out: bool, deadline: float) -> None:
    if ssh.seconds is None:
        results["ssh"] = ("Failed", f"no SSH banner on the forwarded port 22 ({ssh.error or 'no answer'}); "
                          + _not_seen(elapsed, timed_out, deadline), None)
        return
    results["ssh"] = ("Passed", ssh.banner, ssh.seconds)
    agents = ", ".join(login.agents) if login and login.agents else ""
    waagent = _waagent_note(m, login)
    if m.cloud_init or (login and login.ok):
        actual = m.cloud_init or f"the seed's user and key were applied ({agents or 'agent unknown'})"
        seconds = m.passed["agent"].seconds if "agent" in m.passed else (login.seconds if login else None)
        if waagent:
            results["agent"] = ("Warning", f"{actual}; {waagent}", seconds)
        else:
            results["agent"] = ("Passed", actual, seconds)
    else:
        results["agent"] = ("Failed", "cloud-init never reported finishing and the provisioned user cannot log "
                            f"in ({login.error if login else 'no login tried'})", None)
        return
    if not login or not login.ok:
        results["login"] = ("Failed", login.error if login else "no login tried", None)
        return
    actual = f"system {login.state or 'unknown'}; kernel {login.kernel or '?'}" + (f"; {agents}" if agents else "")
    if login.state == "degraded":
        results["login"] = ("Warning", f"{actual}; failed units: {', '.join(login.failed_units) or 'none listed'}",
                            login.seconds)
    else:
        results["login"] = ("Passed", actual, login.seconds)


def _waagent_note(m: Milestones, login: LoginResult | None) -> str | None:
    """waagent cannot work outside the cloud: a Warning that says so, never a Pass it did not earn."""
    state = login.waagent if login else ""
    if state == "skipped":
        return ("waagent is installed but its service did not start: it runs only on the platform's hypervisor "
                "and needs the platform's wire server, so it is not checked here")
    if (state and state != "active") or m.waagent_failure:
        return (f"waagent is installed but not running ({m.waagent_failure or state}): it needs the platform's "
                "wire server, which only the cloud provides")
    return None


def summary(checks: list[StagingCheck], first_missing: str | None, m: Milestones, ssh: SshProbe, *,
            timed_out: bool, deadline: float, console_truncated: bool) -> str:
    by_id = {c.check_id: c for c in checks}
    notes = []
    if console_truncated:
        notes.append("the console output was cut to its head and tail")
    if first_missing is None:
        init = by_id["init"].seconds
        text = (f"booted to multi-user in {_s(init)}; SSH answered in {_s(ssh.seconds)}; "
                "logged in as the provisioned user")
        warnings = [c.name for c in checks if c.result == "Warning"]
        if warnings:
            notes.append(f"warnings: {', '.join(warnings)}")
        return "; ".join([text, *notes])
    missing = by_id[first_missing]
    text = f"{missing.name.lower()} did not happen: {missing.actual}"
    if timed_out and f"{deadline:.0f} s deadline" not in missing.actual:
        notes.append(f"stopped at the {deadline:.0f} s deadline")
    return "; ".join([text, *notes])
