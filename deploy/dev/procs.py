"""Ports and process groups of the local stack: its ports, free ones, a port probe, and stopping a process group.

Every server the stack starts runs in its own session (``start_new_session=True``), so signalling its process
group reaches every child it may have. Stopping is SIGTERM, a grace period, then SIGKILL: never a process left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


# The fixed ports of `make up`; tests and benchmarks take free ones.
@dataclass
class Ports:
    kafka: int = 9092
    kafka_controller: int = 9093
    postgres: int = 55432
    api: int = 8080
    smtp: int = 1025
    mail_http: int = 8025
    storefront: int = 6064
    web: dict[str, int] = field(default_factory=lambda: {
        "validation": 6061, "certification": 6062, "provisioning": 6063, "packaging": 6064,
        "notifier": 6065, "projection": 6066, "staging": 6067})

    @classmethod
    def free(cls) -> Ports:
        p = cls(kafka=free_port(), kafka_controller=free_port(), postgres=free_port(), api=free_port(),
                smtp=free_port(), mail_http=free_port())
        p.web = {name: free_port() for name in p.web}
        p.storefront = p.web["packaging"]
        return p


def recorded_pid(pid_file: Path, marker: bytes) -> int | None:
    """The pid in ``pid_file`` if that process's command line still contains ``marker`` (guards pid reuse)."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if marker in cmdline else None


def alive(pid: int, proc: subprocess.Popen[bytes] | None = None) -> bool:
    if proc is not None and proc.pid == pid:
        return proc.poll() is None  # also reaps our own child, which would otherwise linger as a zombie
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (dead, not yet reaped by its parent) still answers kill(0): it is gone for our purposes.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def stop_group(pid: int, proc: subprocess.Popen[bytes] | None = None, *, sig: int = signal.SIGTERM,
               grace: float = 10.0) -> None:
    """Sends ``sig`` to the process group led by ``pid``; SIGKILL after ``grace`` seconds if it still runs."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    deadline = time.monotonic() + grace
    while alive(pid, proc) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(pid, proc):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        while alive(pid, proc):
            time.sleep(0.05)
    if proc is not None and proc.pid == pid:
        proc.wait()


def instance_names(service: str, count: int) -> list[str]:
    """The process names of ``count`` instances of ``service``: ``certification``, ``certification-2``, ..."""
    return [service] + [f"{service}-{i}" for i in range(2, count + 1)]


def base_service(name: str) -> str:
    """The service a process name runs: ``certification-2`` -> ``certification``, ``status-api`` unchanged."""
    head, _, tail = name.rpartition("-")
    return head if head and tail.isdigit() else name
