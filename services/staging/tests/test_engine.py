"""The engine's input checks and the static boot-sector path (no QEMU is started for these)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from offerflow_contract.events.staging import CONSOLE_MAX_CHARS, StagingCheck
from offerflow_staging.engine import BootSettings, UnusableImage, boot_check, first_sector


@pytest.mark.parametrize(("content", "message"), [
    (b"", "smaller than one sector"),
    (b"x" * 1000, "not a whole number of sectors"),
    (b"QFI\xfb" + bytes(1020), "only fixed VHD and raw"),
    (bytes(1024) + b"conectix" + bytes(52) + b"\0\0\0\3" + bytes(448), "only fixed VHD and raw"),
])
def test_not_a_disk_is_unusable(tmp_path: Path, content: bytes, message: str) -> None:
    image = tmp_path / "image"
    image.write_bytes(content)
    with pytest.raises(UnusableImage, match=message):
        first_sector(image)


def test_missing_or_directory_is_unusable(tmp_path: Path) -> None:
    for path in (tmp_path / "absent.vhd", tmp_path):
        with pytest.raises(UnusableImage, match="not a file"):
            first_sector(path)


async def test_a_disk_without_boot_code_fails_the_boot_loader_at_once(tmp_path: Path) -> None:
    image = tmp_path / "blank.raw"
    image.write_bytes(bytes(510) + b"\x55\xaa" + bytes(1024 * 1024))
    seen: list[StagingCheck] = []

    async def on_check(check: StagingCheck) -> None:
        seen.append(check)

    settings = BootSettings(work_dir=tmp_path / "work", qemu_binary="/nonexistent/qemu")  # never started
    report = await boot_check(image, plan_id="p", image_version="1.0.0", region="eastus", location="eastus/p",
                              settings=settings, on_check=on_check)
    assert report.result == "Fail" and report.first_missing == "boot-loader"
    assert "all zeros" in report.checks[0].actual and report.accelerator == "none"
    assert [c.check_id for c in seen] == [c.check_id for c in report.checks]


FAKE_QEMU = """#!{python}
import os, sys, time
args = sys.argv[1:]
open(args[args.index("-pidfile") + 1], "w").write(str(os.getpid()))
for line in open({transcript!r}):
    sys.stdout.write(line)
    sys.stdout.flush()
    time.sleep(0.002)
time.sleep(600)  # like a guest stuck in its initramfs shell: the engine must stop it
"""


async def test_a_console_failure_stops_the_vm_and_reports_checks_as_seen(tmp_path: Path) -> None:
    # A stand-in for QEMU that replays the console of the real no-init boot, then hangs.
    transcript = Path(__file__).parent / "transcripts" / "no-init.txt"
    fake = tmp_path / "qemu-system-x86_64"
    fake.write_text(FAKE_QEMU.format(python=sys.executable, transcript=str(transcript)))
    fake.chmod(0o755)
    image = tmp_path / "disk.raw"
    image.write_bytes(b"\xeb\xfe" + bytes(508) + b"\x55\xaa" + bytes(1024 * 1024))
    seen: list[StagingCheck] = []

    async def on_check(check: StagingCheck) -> None:
        seen.append(check)

    work = tmp_path / "work"
    report = await boot_check(image, plan_id="p", image_version="1", region="r", location="r/disk.raw",
                              settings=BootSettings(work_dir=work, qemu_binary=str(fake), accelerator="tcg",
                                                    boot_timeout_seconds=60), on_check=on_check)
    assert report.result == "Fail" and report.first_missing == "init"
    assert report.checks[3].actual == "run-init: /sbin/init: No such file or directory"
    assert report.seconds < 30  # stopped after the failure, not at the deadline
    assert seen == report.checks  # each check once, as final, in order
    assert "Linux version 6.1.0-57-cloud-amd64" in report.console
    assert not list(work.glob("qemu-*.pid")) and not list(work.glob("boot-*"))


FLOODING_QEMU = """#!{python}
import os, sys
args = sys.argv[1:]
open(args[args.index("-pidfile") + 1], "w").write(str(os.getpid()))
while True:
    sys.stdout.write("A" * 1000 + "\\n")
"""


async def test_a_flooding_guest_is_stopped_at_the_deadline_with_a_bounded_console(tmp_path: Path) -> None:
    # Its pipe is full when the engine stops reading: the stop must still see the process end.
    fake = tmp_path / "qemu-system-x86_64"
    fake.write_text(FLOODING_QEMU.format(python=sys.executable))
    fake.chmod(0o755)
    image = tmp_path / "disk.raw"
    image.write_bytes(b"\xeb\xfe" + bytes(508) + b"\x55\xaa" + bytes(1024 * 1024))
    report = await asyncio.wait_for(boot_check(
        image, plan_id="p", image_version="1", region="r", location="r/disk.raw",
        settings=BootSettings(work_dir=tmp_path / "work", qemu_binary=str(fake), accelerator="tcg",
                              boot_timeout_seconds=3)), timeout=60)
    assert report.result == "Fail" and report.first_missing == "boot-loader"
    assert "3 s deadline" in report.checks[0].actual
    assert report.console_truncated and len(report.console) <= CONSOLE_MAX_CHARS
