from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from offerflow_staging.adapters import qemu


def spec(tmp_path: Path, image: Path, accel: str = "tcg") -> qemu.QemuSpec:
    return qemu.QemuSpec("qemu-system-x86_64", image, tmp_path / "seed.iso", 512, accel, 2222,
                         tmp_path / "qemu-1-1.pid")


def test_fixed_vhd_keeps_its_size_and_raw_is_raw(tmp_path: Path) -> None:
    raw = tmp_path / "disk.raw"
    raw.write_bytes(bytes(4096))
    vhd = tmp_path / "disk.vhd"
    vhd.write_bytes(bytes(4096) + b"conectix" + bytes(504))
    assert qemu.drive_format(raw) == "format=raw"
    assert qemu.drive_format(vhd) == "format=vpc,force_size_calc=current_size"


def test_command_is_isolated_snapshot_with_forwarded_ssh_only(tmp_path: Path) -> None:
    image = tmp_path / "disk.raw"
    image.write_bytes(bytes(4096))
    cmd = qemu.command(spec(tmp_path, image))
    joined = " ".join(cmd)
    assert "-snapshot" in cmd and "-nographic" in cmd
    assert "tcg,tb-size=64" in cmd
    assert "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:2222-:22" in cmd
    assert f"file={image},format=raw,if=virtio" in joined
    assert "media=cdrom" in joined and str(tmp_path / "seed.iso") in joined
    assert cmd[cmd.index("-pidfile") + 1] == str(tmp_path / "qemu-1-1.pid")
    assert "kvm" in qemu.command(spec(tmp_path, image, "kvm"))


def _sleeper(tmp_path: Path, pidfile: Path) -> subprocess.Popen[bytes]:
    # A process whose argv looks like a QEMU started with this pidfile (argv[0] set by exec -a).
    sleep = f'{sys.executable} -c "import time; time.sleep(60)"'
    proc = subprocess.Popen(["bash", "-c", f"exec -a qemu-system-x86_64 {sleep} -pidfile {pidfile}"])
    pidfile.write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + 30
    # Until bash has exec'd: bash's own command line holds the whole script (time.sleep included), so only the
    # new argv[0] tells the exec happened; before it, a reap on a busy machine met bash and rightly spared it.
    while not Path(f"/proc/{proc.pid}/cmdline").read_bytes().startswith(b"qemu-system-x86_64\0"):
        assert time.monotonic() < deadline, "the stand-in QEMU did not start"
        time.sleep(0.01)
    return proc


def test_reap_kills_a_dead_owners_qemu_and_spares_a_live_owners(tmp_path: Path) -> None:
    dead_owner = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                                text=True, check=True).stdout.strip()
    orphan_file = tmp_path / f"qemu-{dead_owner}-1.pid"
    live_file = tmp_path / f"qemu-{os.getppid()}-1.pid"  # our parent is alive
    orphan, live = _sleeper(tmp_path, orphan_file), _sleeper(tmp_path, live_file)
    stale = tmp_path / f"qemu-{dead_owner}-2.pid"
    stale.write_text(f"{os.getpid()}\n")  # a recycled pid: this test process, no QEMU: never killed
    try:
        assert qemu.reap_leftovers(tmp_path) == [orphan.pid]
        assert orphan.wait(timeout=5) == -9
        assert live.poll() is None and live_file.exists()
        assert not orphan_file.exists() and not stale.exists()
    finally:
        for p in (orphan, live):
            p.kill()
            p.wait()


@pytest.mark.asyncio
async def test_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    image = tmp_path / "disk.raw"
    image.write_bytes(bytes(4096))
    s = qemu.QemuSpec("/nonexistent/qemu-system-x86_64", image, None, 64, "tcg", 2222, tmp_path / "q.pid")
    with pytest.raises(qemu.QemuMissing, match="not installed"):
        await qemu.start(s)
