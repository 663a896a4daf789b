"""Boot the good test image to its SSH banner through the staging engine and, in the same run, time the floor:
the same QEMU command booting the `floor` variant, whose init only prints a line and powers off.

    uv run python bench/staging.py [--rounds 3] [--accelerator tcg] [--bare]

Both images come from tests/images/bootable.py (built and cached on first use, which needs root). Rounds
alternate good and floor so that a load spike on this shared machine hits both. The floor is the firmware, the
boot loader, the kernel and the initramfs: what any boot of this disk costs, so the ratio is what the rest of the
boot (systemd, sshd, cloud-init) and the engine's watching add.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from offerflow_staging.adapters import qemu, seed, ssh
from offerflow_staging.engine import BootSettings, boot_check
from tests.images.bootable import build_bootable
from tests.images.bootable_variants import FLOOR_LINE

FLOOR_TIMEOUT = 300.0


async def good_to_banner(image: Path, work: Path, accelerator: str) -> float:
    report = await boot_check(image, plan_id="bench", image_version="1", region="local", location=str(image),
                              settings=BootSettings(work_dir=work, accelerator=accelerator))  # type: ignore[arg-type]
    ssh = next(c for c in report.checks if c.check_id == "ssh")
    if ssh.seconds is None or ssh.result != "Passed":
        raise SystemExit(f"the good image did not reach its SSH banner: {report.summary}")
    return ssh.seconds


def _spec(image: Path, work: Path, accelerator: str, name: str) -> qemu.QemuSpec:
    seed_iso = seed.write_seed(work / f"{name}-seed.iso", user="offerflow", public_key="ssh-ed25519 AAAA bench",
                               instance_id=f"bench-{name}")
    return qemu.QemuSpec("qemu-system-x86_64", image, seed_iso, 512, accelerator, qemu.free_port(),
                         qemu.pidfile_for(work, 10_000))


async def floor_to_line(image: Path, work: Path, accelerator: str) -> float:
    spec = _spec(image, work, accelerator, "floor")
    started = time.monotonic()
    proc = await qemu.start(spec)
    assert proc.stdout is not None
    try:
        buffer = b""
        async with asyncio.timeout(FLOOR_TIMEOUT):
            while chunk := await proc.stdout.read(65536):
                buffer = (buffer + chunk)[-4096:]
                if FLOOR_LINE.encode() in buffer:
                    return time.monotonic() - started
        raise SystemExit(f"the floor image ended without printing {FLOOR_LINE}")
    finally:
        await qemu.stop(proc, spec.pidfile)


async def bare_to_banner(image: Path, work: Path, accelerator: str) -> float:
    """Context: the good image under the same command, its console drained unread, the port polled every 0.5 s."""
    spec = _spec(image, work, accelerator, "bare")
    started = time.monotonic()
    proc = await qemu.start(spec)
    assert proc.stdout is not None
    stdout = proc.stdout

    async def drain() -> None:
        while await stdout.read(65536):
            pass

    drainer = asyncio.create_task(drain())
    try:
        async with asyncio.timeout(FLOOR_TIMEOUT):
            for _ in range(10_000):
                if await ssh.read_banner(spec.ssh_port, wait_seconds=2.0):
                    return time.monotonic() - started
                await asyncio.sleep(0.5)
        raise SystemExit("the good image never answered on its SSH port")
    finally:
        drainer.cancel()
        await asyncio.gather(drainer, return_exceptions=True)
        await qemu.stop(proc, spec.pidfile)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--accelerator", choices=("tcg", "kvm", "auto"), default="tcg")
    parser.add_argument("--bare", action="store_true",
                        help="also time the good image to its banner without the engine (context, not the ratio)")
    args = parser.parse_args()
    good, floor = build_bootable("good"), build_bootable("floor")
    # The floor is a raw QEMU command: resolve "auto" once, through the engine's own probe, for both.
    accelerator = args.accelerator
    if accelerator == "auto":
        from offerflow_staging import accel
        with tempfile.TemporaryDirectory(prefix="offerflow-bench-probe-") as probe_dir:
            accelerator = await accel.choose("auto", "qemu-system-x86_64", good, Path(probe_dir))
    goods: list[float] = []
    floors: list[float] = []
    bares: list[float] = []
    with tempfile.TemporaryDirectory(prefix="offerflow-bench-staging-") as tmp:
        work = Path(tmp)
        for n in range(1, args.rounds + 1):
            goods.append(await good_to_banner(good, work, accelerator))
            floors.append(await floor_to_line(floor, work, accelerator))
            if args.bare:
                bares.append(await bare_to_banner(good, work, accelerator))
            bare = f", bare QEMU to SSH banner {bares[-1]:.1f} s" if bares else ""
            print(f"round {n}: good to SSH banner {goods[-1]:.1f} s, floor to {FLOOR_LINE} {floors[-1]:.1f} s"
                  f"{bare}", flush=True)
    g, f = statistics.median(goods), statistics.median(floors)
    print(f"accelerator {accelerator}, {args.rounds} rounds")
    print(f"floor (same QEMU command, init prints a line): median {f:.1f} s")
    print(f"good image to SSH banner (staging engine): median {g:.1f} s")
    if bares:
        print(f"good image to SSH banner, bare QEMU, 0.5 s poll (context): median {statistics.median(bares):.1f} s")
    print(f"ratio {g / f:.2f} (good / floor)")


if __name__ == "__main__":
    asyncio.run(main())
