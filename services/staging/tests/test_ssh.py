from __future__ import annotations

import asyncio
from pathlib import Path

from offerflow_staging.adapters import ssh


async def _serve(payload: bytes | None) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if payload:
            writer.write(payload)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_banner_is_read_and_a_bare_accept_is_not_one() -> None:
    server, port = await _serve(b"hello first\r\nSSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n")
    async with server:
        assert await ssh.read_banner(port) == "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10"
    # QEMU's user networking accepts and closes when nothing listens in the guest: no banner.
    server, port = await _serve(None)
    async with server:
        assert await ssh.read_banner(port, wait_seconds=1.0) is None


async def test_generated_key_is_ed25519(tmp_path: Path) -> None:
    key, public = await ssh.generate_key(tmp_path)
    assert key.exists() and public.startswith("ssh-ed25519 ")
    assert oct(key.stat().st_mode & 0o777) == "0o600"


def test_parse_login_reads_state_units_and_agents() -> None:
    out = ("state=degraded\nkernel=6.1.0-57-cloud-amd64\nfailed=walinuxagent.service systemd-networkd.service\n"
           "agent=cloud-init 22.4.2\nagent=waagent 2.2.49.2\nwaagent_unit=inactive no\n")
    r = ssh.parse_login(out, 80.0)
    assert r.ok and r.state == "degraded" and r.kernel == "6.1.0-57-cloud-amd64"
    assert r.failed_units == ("walinuxagent.service", "systemd-networkd.service")
    assert r.agents == ("cloud-init 22.4.2", "waagent 2.2.49.2") and r.waagent == "skipped"
    assert ssh.parse_login("state=running\nagent=cloud-init 22.4.2\n", 1.0).waagent == ""
    assert ssh.parse_login("agent=waagent 2.7.3.0\nwaagent_unit=failed yes\n", 1.0).waagent == "failed"


def test_ssh_command_never_trusts_or_records_host_keys(tmp_path: Path) -> None:
    cmd = ssh.ssh_command(ssh.SshTarget(port=2222, user="offerflow", key=tmp_path / "k"), "true")
    assert cmd[:5] == ["ssh", "-i", str(tmp_path / "k"), "-p", "2222"]
    assert "UserKnownHostsFile=/dev/null" in cmd and "BatchMode=yes" in cmd and cmd[-2] == "offerflow@127.0.0.1"
