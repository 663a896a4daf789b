"""Which accelerator boots the VM: KVM only once a short probe boot under it got through the kernel's start.

A `/dev/kvm` may exist and still fail (a nested or emulated one stops early in the kernel with "KVM internal
error … emulation failure"), so its presence proves nothing. A decisive probe answer is kept for the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from pathlib import Path

from offerflow_staging.adapters import qemu
from offerflow_staging.console import Console

PROBE_SECONDS = 20.0
# Late in the kernel's own start, after the point where a broken KVM fails: KVM works for this guest.
_KERNEL_WENT_ON = re.compile(r"Freeing unused kernel|Run /init|Run /sbin/init|EXT4-fs \(|Reached target")
_KVM_BROKEN = re.compile(rb"KVM internal error|emulation failure|failed to initialize kvm|Could not access KVM")
_probed: dict[str, bool] = {}


async def choose(setting: str, binary: str, image: Path, work_dir: Path) -> str:
    if setting in ("tcg", "kvm"):
        return setting
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    if binary not in _probed:
        answer = await probe(binary, image, work_dir)
        if answer is None:
            return "tcg"  # undecided (the probe image may be the broken one): ask again next time
        _probed[binary] = answer
    return "kvm" if _probed[binary] else "tcg"


async def probe(binary: str, image: Path, work_dir: Path) -> bool | None:
    """Boots `image` under KVM for at most PROBE_SECONDS: True it got through, False KVM failed, None unknown."""
    spec = qemu.QemuSpec(binary, image, None, 256, "kvm", qemu.free_port(), qemu.pidfile_for(work_dir, 0))
    proc = await qemu.start(spec)
    assert proc.stdout is not None and proc.stderr is not None
    console, errors = Console(), bytearray()
    until = time.monotonic() + PROBE_SECONDS

    async def read_errors() -> None:
        assert proc.stderr is not None
        while chunk := await proc.stderr.read(4096):
            errors.extend(chunk[-4096:])

    err_task = asyncio.create_task(read_errors())
    try:
        while (left := until - time.monotonic()) > 0:
            if _KVM_BROKEN.search(errors):
                return False
            try:
                chunk = await asyncio.wait_for(proc.stdout.read(65536), timeout=min(left, 1.0))
            except TimeoutError:
                continue
            if not chunk:
                await asyncio.wait([err_task], timeout=1.0)
                return False if _KVM_BROKEN.search(errors) else None
            if any(_KERNEL_WENT_ON.search(line) for line in console.feed(chunk)):
                return True
        return None
    finally:
        err_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await err_task
        await qemu.stop(proc, spec.pidfile)
