"""SSH from the host to the VM through QEMU's forwarded port: the banner, then a login with the system client.

Under QEMU's user networking the forwarded port accepts a TCP connection even when nothing listens in the
guest, so only a banner read from it proves that sshd is up.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path

from offerflow_staging.rules import LoginResult

BANNER_PREFIX = b"SSH-2.0-"


class SshUnavailable(Exception):
    """The machine has no `ssh` or `ssh-keygen` client."""


async def generate_key(directory: Path) -> tuple[Path, str]:
    """A fresh ed25519 key pair in `directory` (private key path, public key text)."""
    if shutil.which("ssh-keygen") is None:
        raise SshUnavailable("ssh-keygen is not installed (the OpenSSH client is needed for the login check)")
    key = directory / "id_ed25519"
    for old in (key, key.with_suffix(".pub")):
        old.unlink(missing_ok=True)
    proc = await asyncio.create_subprocess_exec("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                                                "offerflow-staging", "-f", str(key), stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise SshUnavailable(f"ssh-keygen failed: {err.decode(errors='replace').strip()}")
    return key, key.with_suffix(".pub").read_text().strip()


async def read_banner(port: int, host: str = "127.0.0.1", wait_seconds: float = 5.0) -> str | None:
    """The SSH identification line if sshd answers on the port within `wait_seconds`, else None."""
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), wait_seconds)
        # RFC 4253: the server may send other lines before its identification string.
        async with asyncio.timeout(wait_seconds):
            for _ in range(20):
                line = await reader.readline()
                if not line:
                    return None
                if line.startswith(BANNER_PREFIX):
                    return line.decode("ascii", "replace").strip()
        return None
    except (OSError, TimeoutError):
        return None
    finally:
        if writer is not None:
            writer.close()


# Collected in one session: the system state, the kernel and which agents are there (and whether waagent runs);
# the agents live in sbin, which a user's PATH may lack.
_REMOTE = ("PATH=$PATH:/usr/sbin:/sbin; s=$(timeout 60 systemctl is-system-running --wait 2>/dev/null);"
           " echo state=${s:-$(systemctl is-system-running 2>/dev/null)};"
           " echo kernel=$(uname -r);"
           " echo failed=$(systemctl list-units --failed --plain --no-legend 2>/dev/null | awk '{print $1}' | xargs);"
           " command -v cloud-init >/dev/null && echo agent=cloud-init $(cloud-init --version 2>&1 | awk '{print $2}');"
           " command -v waagent >/dev/null && echo agent=waagent $(waagent --version 2>/dev/null | head -1 |"
           " awk '{print $1}' | cut -d- -f2) && echo waagent_unit=$(systemctl show -p ActiveState -p"
           " ConditionResult --value walinuxagent 2>/dev/null | xargs);"
           " true")


@dataclass(frozen=True)
class SshTarget:
    port: int
    user: str
    key: Path
    host: str = "127.0.0.1"


def ssh_command(target: SshTarget, remote: str) -> list[str]:
    return ["ssh", "-i", str(target.key), "-p", str(target.port), "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "ConnectTimeout=10", "-o", "IdentitiesOnly=yes", "-F", "/dev/null",
            f"{target.user}@{target.host}", remote]


def parse_login(output: str, seconds: float) -> LoginResult:
    values: dict[str, str] = {}
    agents: list[str] = []
    for line in output.splitlines():
        key, _, value = line.partition("=")
        if key == "agent":
            agents.append(value.strip())
        elif key in ("state", "kernel", "failed", "waagent_unit"):
            values[key] = value.strip()
    # `systemctl show` prints ActiveState then ConditionResult: "inactive no" is a unit whose condition (the
    # platform's hypervisor) kept it from starting at all.
    unit = values.get("waagent_unit", "").split()
    waagent = ""
    if any(a.startswith("waagent") for a in agents):
        waagent = "skipped" if unit[1:2] == ["no"] else (unit[0] if unit else "unknown")
    return LoginResult(seconds=seconds, ok=True, state=values.get("state", ""), kernel=values.get("kernel", ""),
                       failed_units=tuple(values.get("failed", "").split()), agents=tuple(agents),
                       waagent=waagent)


async def login(target: SshTarget, *, attempt_timeout: float = 90.0) -> tuple[bool, str]:
    """One login attempt running the state probe: (succeeded, its output or why it failed)."""
    proc = await asyncio.create_subprocess_exec(*ssh_command(target, _REMOTE), stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), attempt_timeout)
    except (TimeoutError, asyncio.CancelledError):
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode == 0:
        return True, out.decode(errors="replace")
    reason = err.decode(errors="replace").strip().splitlines()
    return False, (reason[-1] if reason else f"ssh exited with {proc.returncode}")
