"""Real boots under QEMU of the bootable test images (tests/images/bootable.py), one per variant, and the limits:
a guest that floods or hangs is stopped at the deadline, and no QEMU outlives a cancelled boot or a killed worker.

Each boot takes about a minute on two cores (TCG): these run in `make test-staging`, not in `make test`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from offerflow_contract.events.staging import CONSOLE_MAX_CHARS, StagingCheck, StagingReport
from offerflow_staging.adapters import qemu
from offerflow_staging.engine import BootSettings, boot_check, reap_leftovers
from tests.images.bootable import build_bootable

pytestmark = pytest.mark.staging
TIMEOUT = 300.0  # the service's default


def settings(work: Path, **kw: object) -> BootSettings:
    return BootSettings(work_dir=work, **kw)  # type: ignore[arg-type]


async def boot(variant: str, work: Path, **kw: object) -> tuple[StagingReport, list[StagingCheck]]:
    image = await asyncio.to_thread(build_bootable, variant)
    seen: list[StagingCheck] = []

    async def on_check(check: StagingCheck) -> None:
        seen.append(check)

    report = await boot_check(image, plan_id="plan-1", image_version="1.0.0", region="eastus",
                              location=f"eastus/{variant}.vhd", settings=settings(work, **kw), on_check=on_check)
    return report, seen


def by_id(report: StagingReport) -> dict[str, StagingCheck]:
    return {c.check_id: c for c in report.checks}


def assert_no_qemu_left(work: Path) -> None:
    assert not list(work.glob("qemu-*.pid")), "a QEMU pidfile was left behind"
    assert not list(work.glob("boot-*")), "a boot directory (seed, key) was left behind"


async def test_good_boots_to_a_login_as_the_provisioned_user(tmp_path: Path) -> None:
    report, seen = await boot("good", tmp_path)
    checks = by_id(report)
    assert report.result == "Pass", report.summary
    assert report.first_missing is None
    assert "Linux version 6.1.0" in report.console
    assert checks["kernel"].actual.startswith("Linux 6.1.0-")
    assert checks["ssh"].actual.startswith("SSH-2.0-OpenSSH")
    assert checks["login"].result in ("Passed", "Warning") and "kernel 6.1.0-" in checks["login"].actual
    # The image carries waagent, which cannot run outside the cloud: said as a Warning, never a Pass.
    assert checks["agent"].result == "Warning" and "waagent" in checks["agent"].actual
    assert "cloud-init" in checks["agent"].actual
    assert report.summary.startswith("booted to multi-user in ")
    assert [c.check_id for c in seen] == [c.check_id for c in report.checks]  # each reported once, in order
    assert report.checks[0].seconds is not None and report.checks[0].seconds < checks["ssh"].seconds  # type: ignore[operator]
    assert_no_qemu_left(tmp_path)


async def test_no_bootloader_fails_at_once_without_qemu(tmp_path: Path) -> None:
    started = time.monotonic()
    report, _ = await boot("no-bootloader", tmp_path)
    assert time.monotonic() - started < 10
    assert report.result == "Fail" and report.first_missing == "boot-loader"
    assert "all zeros" in report.checks[0].actual and report.accelerator == "none"
    assert [c.result for c in report.checks[1:]] == ["NotRun"] * 6


async def test_bad_root_fails_root_fs(tmp_path: Path) -> None:
    report, _ = await boot("bad-root", tmp_path)
    assert report.result == "Fail" and report.first_missing == "root-fs", report.summary
    assert any("Gave up waiting for root" in line or "does not exist" in line for line in report.console_tail)
    assert by_id(report)["kernel"].result == "Passed"
    assert report.summary.startswith("root file system did not happen")


async def test_no_init_fails_init(tmp_path: Path) -> None:
    report, _ = await boot("no-init", tmp_path)
    assert report.result == "Fail" and report.first_missing == "init", report.summary
    assert by_id(report)["root-fs"].result == "Passed"
    assert any("init" in line for line in report.console_tail)
    assert [c.result for c in report.checks[4:]] == ["NotRun"] * 3


async def test_no_sshd_fails_ssh_at_the_deadline(tmp_path: Path) -> None:
    # The console reaches its login prompt; nothing answers on port 22 until the (shortened) deadline.
    report, _ = await boot("no-sshd", tmp_path, boot_timeout_seconds=150.0)
    assert report.result == "Fail" and report.first_missing == "ssh", report.summary
    assert by_id(report)["init"].result == "Passed"
    assert "150 s deadline" in by_id(report)["ssh"].actual
    assert any("login:" in line for line in report.console.splitlines())


async def test_rootdelay_extends_the_deadline_and_warns(tmp_path: Path) -> None:
    # A deadline shorter than boot + rootdelay: only the extension lets it pass.
    report, _ = await boot("rootdelay", tmp_path)
    root = by_id(report)["root-fs"]
    assert report.result == "Pass", report.summary
    assert root.result == "Warning" and "rootdelay=20" in root.actual and "rootwait" in root.actual
    assert root.seconds is not None and root.seconds >= 20
    assert "rootdelay=20" in report.console


async def test_floor_powers_off_after_its_line_and_fails_init(tmp_path: Path) -> None:
    report, _ = await boot("floor", tmp_path)
    assert report.result == "Fail" and report.first_missing == "init", report.summary
    assert "offerflow-floor-ready" in report.console
    assert "the boot ended after" in by_id(report)["init"].actual


def _disk(path: Path, code: bytes) -> Path:
    path.write_bytes(code + bytes(510 - len(code)) + b"\x55\xaa" + bytes(4 * 1024 * 1024))
    return path


# Real-mode boot sectors: write "A\n" to the first serial port for ever; jump to itself for ever.
FLOOD = bytes.fromhex("baf803" "b041ee" "b00aee" "ebf8")
HANG = bytes.fromhex("ebfe")


@pytest.mark.parametrize(("code", "flood"), [(FLOOD, True), (HANG, False)], ids=["flood", "hang"])
async def test_a_guest_that_floods_or_hangs_is_stopped_at_the_deadline(tmp_path: Path, code: bytes,
                                                                       flood: bool) -> None:
    image = _disk(tmp_path / "guest.raw", code)
    started = time.monotonic()
    report = await boot_check(image, plan_id="p", image_version="1", region="r", location="r/guest.raw",
                              settings=settings(tmp_path / "work", boot_timeout_seconds=20.0, accelerator="tcg"))
    assert time.monotonic() - started < 60
    assert report.result == "Fail" and report.first_missing == "boot-loader"
    assert "20 s deadline (the VM was stopped)" in report.checks[0].actual
    assert len(report.console) <= CONSOLE_MAX_CHARS
    assert report.console_truncated is flood
    if flood:
        assert report.console.startswith("SeaBIOS") and report.console_tail[-1] == "A"
        assert "cut to its head and tail" in report.summary
    assert_no_qemu_left(tmp_path / "work")


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _wait_for_qemu(work: Path, owner: int, timeout: float = 120.0) -> int:
    """The pid QEMU wrote in its pidfile for the worker `owner`."""
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        for pidfile in work.glob(f"qemu-{owner}-*.pid"):
            text = pidfile.read_text().strip()
            if text and _alive(int(text)):
                return int(text)
        time.sleep(0.2)
    raise AssertionError(f"no QEMU started for {owner} within {timeout} s")


async def test_cancelling_the_boot_kills_qemu_at_once(tmp_path: Path) -> None:
    image = await asyncio.to_thread(build_bootable, "good")
    task = asyncio.create_task(boot_check(image, plan_id="p", image_version="1", region="r", location="r/good",
                                          settings=settings(tmp_path, accelerator="tcg")))
    pid = await asyncio.to_thread(_wait_for_qemu, tmp_path, os.getpid())
    await asyncio.sleep(3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not _alive(pid)
    assert_no_qemu_left(tmp_path)


_WORKER = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from offerflow_staging.engine import BootSettings, boot_check
    asyncio.run(boot_check(Path(sys.argv[1]), plan_id="p", image_version="1", region="r", location="r",
                           settings=BootSettings(work_dir=Path(sys.argv[2]), accelerator="tcg")))
""")


def _wait_for_end(pid: int, timeout: float = 10.0) -> bool:
    until = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < until:
        time.sleep(0.1)
    return not _alive(pid)


def test_a_killed_worker_leaves_no_qemu(tmp_path: Path) -> None:
    image = build_bootable("good")
    worker = subprocess.Popen([sys.executable, "-c", _WORKER, str(image), str(tmp_path)])
    try:
        pid = _wait_for_qemu(tmp_path, worker.pid)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        assert _wait_for_end(pid), "QEMU outlived its killed worker (PR_SET_PDEATHSIG)"
        # QEMU died by SIGKILL and could not remove its pidfile: the next start clears it, and the boot directory.
        assert list(tmp_path.glob(f"qemu-{worker.pid}-*.pid"))
        assert reap_leftovers(tmp_path) == []
        assert not list(tmp_path.glob("qemu-*.pid"))
    finally:
        worker.kill()
        worker.wait()


def test_reap_leftovers_kills_a_qemu_whose_worker_died_without_taking_it(tmp_path: Path) -> None:
    # A QEMU started without PR_SET_PDEATHSIG by a worker that was then killed: only its pidfile remains.
    image = _disk(tmp_path / "hang.raw", HANG)
    starter = textwrap.dedent("""
        import os, subprocess, sys, time
        from pathlib import Path
        from offerflow_staging.adapters import qemu
        work = Path(sys.argv[2])
        spec = qemu.QemuSpec("qemu-system-x86_64", Path(sys.argv[1]), None, 64, "tcg", qemu.free_port(),
                             qemu.pidfile_for(work, 1))
        subprocess.Popen(qemu.command(spec), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         start_new_session=True)
        time.sleep(600)
    """)
    worker = subprocess.Popen([sys.executable, "-c", starter, str(image), str(tmp_path)])
    pid = 0
    try:
        pid = _wait_for_qemu(tmp_path, worker.pid, 30.0)
        assert reap_leftovers(tmp_path) == []  # its worker is alive: not a leftover
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        assert _alive(pid)
        assert reap_leftovers(tmp_path) == [pid]
        assert _wait_for_end(pid)
        assert not list(tmp_path.glob("qemu-*.pid"))
    finally:
        worker.kill()
        worker.wait()
        if pid and _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_qemu_command_opens_a_fixed_vhd_at_its_full_size() -> None:
    image = build_bootable("good")
    assert qemu.drive_format(image) == "format=vpc,force_size_calc=current_size"
