"""QEMU: the command line, the process and its pidfile, and the clean-up of what a killed worker left behind.

QEMU is started with PR_SET_PDEATHSIG=SIGKILL, so the kernel kills it when the worker dies, even by `kill -9`;
its pidfile in the work directory lets the next start kill one that outlived a worker anyway (a pidfile whose
owner is gone and whose process is still that QEMU).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
from dataclasses import dataclass
from pathlib import Path

_PR_SET_PDEATHSIG = 1
VHD_COOKIE = b"conectix"


class QemuMissing(Exception):
    """The QEMU binary is not installed."""


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def drive_format(image: Path) -> str:
    """QEMU's -drive format options for the image: a fixed VHD keeps its size with force_size_calc."""
    size = image.stat().st_size
    with image.open("rb") as f:
        f.seek(max(size - 512, 0))
        footer = f.read(512)
    if footer.startswith(VHD_COOKIE):
        # Plain `vpc` computes the size from the CHS geometry and cuts the disk's end off.
        return "format=vpc,force_size_calc=current_size"
    return "format=raw"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class QemuSpec:
    binary: str
    image: Path
    seed: Path | None
    memory_mib: int
    accelerator: str  # "tcg" or "kvm"
    ssh_port: int
    pidfile: Path


def command(spec: QemuSpec) -> list[str]:
    accel = "tcg,tb-size=64" if spec.accelerator == "tcg" else "kvm"
    cmd = [
        spec.binary, "-nodefaults", "-no-user-config", "-accel", accel, "-m", str(spec.memory_mib),
        "-smp", "1",
        # -nographic makes the firmware (SeaBIOS) speak on the serial console too; the monitor is off.
        "-nographic", "-serial", "stdio", "-monitor", "none",
        "-boot", "order=c,strict=on",
        "-snapshot",  # the replica is never written
        "-drive", f"file={spec.image},{drive_format(spec.image)},if=virtio,cache=unsafe",
        # No way out: restrict=on drops every packet the guest sends but the forwarded SSH connection's.
        "-netdev", f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{spec.ssh_port}-:22",
        "-device", "virtio-net-pci,netdev=n0",
        "-pidfile", str(spec.pidfile),
    ]
    if spec.seed is not None:
        cmd += ["-drive", f"file={spec.seed},format=raw,media=cdrom,readonly=on,if=ide"]
    return cmd


async def start(spec: QemuSpec) -> asyncio.subprocess.Process:
    cmd = command(spec)  # reads the image's footer: its errors are not a missing QEMU
    try:
        return await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, preexec_fn=_die_with_parent, start_new_session=True)
    except FileNotFoundError:
        raise QemuMissing(f"{spec.binary} is not installed (Debian: apt-get install qemu-system-x86)") from None


async def _drain(stream: asyncio.StreamReader | None) -> None:
    while stream is not None and await stream.read(65536):
        pass


async def stop(proc: asyncio.subprocess.Process, pidfile: Path) -> None:
    """Kills QEMU at once (the disk is a snapshot: nothing to flush) and removes its pidfile.

    The caller must have stopped reading its output. asyncio reports the exit only once both pipes are closed,
    and a guest that flooded its console leaves a full, paused pipe: it is read to its end here.
    """
    try:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        ended = asyncio.gather(proc.wait(), _drain(proc.stdout), _drain(proc.stderr))
        await asyncio.shield(asyncio.wait_for(ended, timeout=30.0))
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(pidfile)  # QEMU removes it itself only when it exits cleanly


def pidfile_for(work_dir: Path, seq: int) -> Path:
    # The owner's pid in the name: reap_leftovers never touches a QEMU whose worker is alive.
    return work_dir / f"qemu-{os.getpid()}-{seq}.pid"


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def reap_leftovers(work_dir: Path) -> list[int]:
    """Kills the QEMU processes that workers killed meanwhile left behind; returns their pids."""
    killed: list[int] = []
    for pidfile in sorted(work_dir.glob("qemu-*-*.pid")):
        try:
            owner = int(pidfile.name.split("-")[1])
        except ValueError:
            continue
        if owner != os.getpid() and Path(f"/proc/{owner}").exists():
            continue  # a live worker's VM
        try:
            pid = int(pidfile.read_text().strip() or "0")
        except (OSError, ValueError):
            pid = 0
        args = _cmdline(pid) if pid > 0 else []
        # Only a QEMU started with this very pidfile: a recycled pid is someone else's process.
        if args and "qemu" in Path(args[0]).name and str(pidfile) in args:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        pidfile.unlink(missing_ok=True)
    return killed
