"""The boot check: one replica booted under QEMU, each milestone checked, a `StagingReport` out.

One boot at a time per process (a VM takes about one core and 315 MB); cancelling the task kills QEMU at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from offerflow_contract.events.staging import StagingCheck, StagingReport
from offerflow_staging import accel, rules
from offerflow_staging.adapters import qemu, seed, ssh
from offerflow_staging.adapters.qemu import QemuMissing, reap_leftovers
from offerflow_staging.console import Console

__all__ = ["BootSettings", "QemuMissing", "UnusableImage", "boot_check", "reap_leftovers"]

OnCheck = Callable[[StagingCheck], Awaitable[None]]
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()
_seq = 0
# After a milestone failed, the console is read this long more: the panic's reason follows its first line.
FAILURE_GRACE_SECONDS = 3.0
BIND_RETRIES = 5


class UnusableImage(Exception):
    """The image cannot be booted at all: unreadable, or not a disk."""


@dataclass(frozen=True)
class BootSettings:
    work_dir: Path  # seeds, keys, console files, QEMU pidfiles
    qemu_binary: str = "qemu-system-x86_64"
    memory_mib: int = 512
    accelerator: Literal["auto", "tcg", "kvm"] = "auto"  # auto: KVM only after a short timed probe boot succeeds
    boot_timeout_seconds: float = 300.0  # power-on to login, before any extension the image asks for (rootdelay=)
    login_timeout_seconds: float = 60.0
    user: str = "offerflow"


def _lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    if loop not in _locks:
        _locks[loop] = asyncio.Lock()
    return _locks[loop]


def first_sector(image: Path) -> bytes:
    """The first sector, after checking the file can be a disk at all (else `UnusableImage`)."""
    try:
        if not image.is_file():
            raise UnusableImage(f"{image}: not a file")
        size = image.stat().st_size
        with image.open("rb") as f:
            sector = f.read(512)
            f.seek(max(size - 512, 0))
            footer = f.read(512)
    except OSError as exc:
        raise UnusableImage(f"{image}: cannot read it ({exc.strerror or exc})") from None
    if size < 512:
        raise UnusableImage(f"{image}: {size} bytes is not a disk (smaller than one sector)")
    if size % 512 and not footer.startswith(qemu.VHD_COOKIE):
        raise UnusableImage(f"{image}: not a disk: {size} bytes is not a whole number of sectors and there is "
                            "no VHD footer")
    if sector.startswith(b"QFI\xfb") or (footer.startswith(qemu.VHD_COOKIE) and footer[60:64] != b"\0\0\0\2"):
        raise UnusableImage(f"{image}: only fixed VHD and raw disks are booted (this is a dynamic or qcow2 disk)")
    return sector


async def boot_check(image: Path, *, plan_id: str, image_version: str, region: str, location: str,
                     settings: BootSettings, on_check: OnCheck | None = None) -> StagingReport:
    sector = await asyncio.to_thread(first_sector, image)
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    emitted: dict[str, StagingCheck] = {}

    async def emit(checks: list[StagingCheck], upto: str | None = None) -> None:
        for check in checks:
            if check.result not in ("Passed", "Warning") and upto is not None:
                return
            if check.check_id not in emitted:
                emitted[check.check_id] = check
                if on_check is not None:
                    await on_check(check)
            if check.check_id == upto:
                return

    def report(outcome: rules.Outcome, accelerator: str, seconds: float, console: Console) -> StagingReport:
        return StagingReport(plan_id=plan_id, image_version=image_version, region=region, location=location,
                             accelerator=accelerator, result="Pass" if outcome.first_missing is None else "Fail",
                             first_missing=outcome.first_missing, summary=outcome.summary, checks=outcome.checks,
                             seconds=round(seconds, 1), console=console.text(), console_truncated=console.truncated,
                             console_tail=console.tail_lines())

    async with _lock():
        await asyncio.to_thread(_clean, settings.work_dir)
        if problem := rules.boot_sector_problem(sector):
            outcome = rules.evaluate(rules.Milestones(), rules.SshProbe(None), None, elapsed=0.0, deadline=0.0,
                                     timed_out=False, static_problem=problem)
            await emit(outcome.checks)
            return report(outcome, "none", 0.0, Console())
        accelerator = await accel.choose(settings.accelerator, settings.qemu_binary, image, settings.work_dir)
        run = _Run(image, settings, accelerator, emit)
        await run.boot()
        outcome = run.outcome()
        await emit(outcome.checks)
        return report(outcome, accelerator, run.elapsed, run.console)


class _Run:
    """One VM: reads its console, polls SSH, logs in, keeps the deadline."""

    def __init__(self, image: Path, settings: BootSettings, accelerator: str,
                 emit: Callable[[list[StagingCheck], str | None], Awaitable[None]]) -> None:
        self.image, self.settings, self.accelerator, self._emit = image, settings, accelerator, emit
        self.console = Console()
        self.milestones = rules.Milestones()
        self.ssh = rules.SshProbe(None)
        self.login: rules.LoginResult | None = None
        self.started = time.monotonic()
        self.elapsed = 0.0
        self.timed_out = False
        self.stderr = b""

    def now(self) -> float:
        return time.monotonic() - self.started

    def deadline(self) -> float:
        return rules.deadline_seconds(self.settings.boot_timeout_seconds, self.milestones.rootdelay)

    def outcome(self) -> rules.Outcome:
        return rules.evaluate(self.milestones, self.ssh, self.login, elapsed=self.elapsed, deadline=self.deadline(),
                              timed_out=self.timed_out, console_truncated=self.console.truncated)

    async def _emit_live(self) -> None:
        """Reports the milestones seen so far, each as the final report will have it: only what the console
        showed, and SSH once the console reached init (else the report would say init was implied)."""
        ssh_now = self.ssh if "init" in self.milestones.passed else rules.SshProbe(None)
        live = rules.evaluate(self.milestones, ssh_now, None, elapsed=self.now(), deadline=self.deadline(),
                              timed_out=False)
        await self._emit(live.checks, "ssh" if ssh_now.seconds is not None else "init")

    async def boot(self) -> None:
        global _seq
        _seq += 1
        # This boot's own seed and key: another process may boot with the same work directory.
        work = self.settings.work_dir / f"boot-{os.getpid()}-{_seq}"
        work.mkdir(parents=True, exist_ok=True)
        try:
            await self._boot(work)
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)

    async def _boot(self, work: Path) -> None:
        global _seq
        key, public = await ssh.generate_key(work)
        seed_iso = await asyncio.to_thread(seed.write_seed, work / "seed.iso", user=self.settings.user,
                                           public_key=public, instance_id=f"staging-{uuid.uuid4()}")
        for attempt in range(BIND_RETRIES):
            _seq += 1
            spec = qemu.QemuSpec(self.settings.qemu_binary, self.image, seed_iso, self.settings.memory_mib,
                                 self.accelerator, qemu.free_port(), qemu.pidfile_for(self.settings.work_dir, _seq))
            self.started = time.monotonic()
            proc = await qemu.start(spec)
            try:
                await self._watch(proc, spec, key)
            finally:
                self.elapsed = self.now()
                await qemu.stop(proc, spec.pidfile)
            if b"host forwarding rule" not in self.stderr or attempt == BIND_RETRIES - 1:
                return
            self.console, self.milestones, self.stderr = Console(), rules.Milestones(), b""  # the port was taken

    async def _watch(self, proc: asyncio.subprocess.Process, spec: qemu.QemuSpec, key: Path) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        reader = asyncio.create_task(self._read_console(proc.stdout))
        errors = asyncio.create_task(self._read_stderr(proc.stderr))
        poller = asyncio.create_task(self._poll_ssh(spec.ssh_port))
        try:
            while True:
                if self.milestones.stopped:
                    await asyncio.wait([reader], timeout=FAILURE_GRACE_SECONDS)
                    return
                if reader.done():  # QEMU ended: the guest powered off or QEMU failed
                    await asyncio.wait([errors], timeout=1.0)
                    for line in self.stderr.decode(errors="replace").splitlines()[-5:]:
                        self.console.feed(f"[qemu] {line}\n".encode())
                    return
                if poller.done():
                    self.timed_out = self.ssh.seconds is None
                    break
                if self.now() > self.deadline():
                    self.timed_out = True
                    return
                await asyncio.wait([reader, poller], timeout=0.5)
            if self.ssh.seconds is not None:
                await self._login(spec.ssh_port, key)
        finally:
            for task in (reader, errors, poller):
                task.cancel()
            await asyncio.gather(reader, errors, poller, return_exceptions=True)

    async def _read_console(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            before = len(self.milestones.passed) + len(self.milestones.failed)
            for line in self.console.feed(chunk):
                self.milestones.observe(line, round(self.now(), 1))
            if len(self.milestones.passed) + len(self.milestones.failed) != before:
                await self._emit_live()  # only when a milestone moved: a flooding guest costs no evaluation
        for line in self.console.close():
            self.milestones.observe(line, round(self.now(), 1))

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(4096):
            self.stderr = (self.stderr + chunk)[-4096:]

    async def _poll_ssh(self, port: int) -> None:
        while self.now() <= self.deadline():
            banner = await ssh.read_banner(port, wait_seconds=5.0)
            if banner:
                self.ssh = rules.SshProbe(round(self.now(), 1), banner)
                await self._emit_live()
                return
            await asyncio.sleep(1.0)
        self.ssh = rules.SshProbe(None, error="no banner before the deadline")

    async def _login(self, port: int, key: Path) -> None:
        target = ssh.SshTarget(port=port, user=self.settings.user, key=key)
        until = time.monotonic() + self.settings.login_timeout_seconds
        reason = "no login tried"
        while (left := until - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                ok, text = await ssh.login(target, attempt_timeout=max(left, 5.0))
                if ok:
                    self.login = ssh.parse_login(text, round(self.now(), 1))
                    return
                reason = text
            await asyncio.sleep(3.0)
        self.login = rules.LoginResult(None, False, error=f"no login as {self.settings.user} within "
                                       f"{self.settings.login_timeout_seconds:.0f} s: {reason}")


def _clean(work_dir: Path) -> None:
    """What killed workers left: their QEMU processes, then their boot directories (seed, key)."""
    reap_leftovers(work_dir)
    for boot_dir in work_dir.glob("boot-*-*"):
        owner = boot_dir.name.split("-")[1]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            shutil.rmtree(boot_dir, ignore_errors=True)


def default_work_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "offerflow" / "staging"
