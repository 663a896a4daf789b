"""Replicates one disk image to N local regions with the provisioning replicator, against `cp` in the same run.

Both sides make durable copies: the replicator fsyncs every replica (and verifies its SHA-256), so the
baseline is `cp SRC DST && sync DST` once per region. The source is read once before either side runs,
so both find it in the page cache. Prints MB/s for both and the ratio (replicator / cp; goal ≥ 0.8).

    uv run python bench/replicate.py [--size-mib 1024] [--regions 8] [--parallel 4] [--chunk-mib 8]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "services/provisioning/src"), str(ROOT / "shared/src")]

from offerflow_contract.events import CertifiedDisk  # noqa: E402
from offerflow_provisioning import rules  # noqa: E402
from offerflow_provisioning.adapters.regions import LocalRegionStore  # noqa: E402
from offerflow_provisioning.adapters.sources import FileDiskSource, SchemeRouter  # noqa: E402
from offerflow_provisioning.replicator import Replicator  # noqa: E402
from offerflow_provisioning.settings import DEFAULT_REGIONS  # noqa: E402

MIB = 1024 * 1024


def make_image(path: Path, size: int) -> str:
    """Random bytes (nothing compresses or dedupes them); returns the SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as f:
        left = size
        while left:
            block = os.urandom(min(left, 16 * MIB))
            digest.update(block)
            f.write(block)
            left -= len(block)
    return digest.hexdigest()


def warm(path: Path) -> None:
    with path.open("rb") as f:
        while f.read(16 * MIB):
            pass


def baseline_cp(src: Path, out: Path, regions: list[str]) -> float:
    started = time.perf_counter()
    for region in regions:
        dst = out / region / "os.vhd"
        dst.parent.mkdir(parents=True)
        subprocess.run(["cp", str(src), str(dst)], check=True)
        subprocess.run(["sync", str(dst)], check=True)
    return time.perf_counter() - started


async def replicator_run(src: Path, sha: str, size: int, out: Path, regions: list[str], parallel: int,
                         chunk: int) -> float:
    disk = CertifiedDisk(plan_id="gold", image_version="1.0.0", disk="os", url=src.as_uri(), sha256=sha,
                         size_bytes=size)
    jobs = rules.plan_copies("bench", "offer", regions, [disk])
    replicator = Replicator(SchemeRouter({"file": FileDiskSource()}), LocalRegionStore(out),
                            chunk_size=chunk, parallel=parallel, retry_delay=0)
    done: list[int] = []

    async def progress(i: int) -> None:
        done.append(i)

    started = time.perf_counter()
    result = await replicator.replicate(jobs, progress)
    elapsed = time.perf_counter() - started
    if result.reasons or len(result.replicas) != len(regions) or len(done) != len(regions):
        raise SystemExit(f"replication failed: {result.reasons}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--regions", type=int, default=8)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--chunk-mib", type=int, default=8)
    parser.add_argument("--dir", type=Path, default=ROOT / ".run", help="where the temporary files go")
    args = parser.parse_args()

    args.dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-replicate-", dir=args.dir))
    try:
        size = args.size_mib * MIB
        src = work / "image.vhd"
        sha = make_image(src, size)
        warm(src)
        # The default region list, numbered past its end when more regions are asked for.
        n = len(DEFAULT_REGIONS)
        regions = [f"{DEFAULT_REGIONS[i % n]}{i // n or ''}" for i in range(args.regions)]
        total_mb = size * len(regions) / 1e6

        cp_seconds = baseline_cp(src, work / "cp", regions)
        shutil.rmtree(work / "cp")
        ours = asyncio.run(
            replicator_run(src, sha, size, work / "regions", regions, args.parallel, args.chunk_mib * MIB)
        )

        cp_rate, our_rate = total_mb / cp_seconds, total_mb / ours
        print(f"image {args.size_mib} MiB x {len(regions)} regions = {total_mb:.0f} MB written")
        print(f"cp + sync     {cp_seconds:7.2f} s  {cp_rate:8.1f} MB/s")
        print(f"replicator    {ours:7.2f} s  {our_rate:8.1f} MB/s  (SHA-256 verified, fsynced)")
        print(f"ratio         {our_rate / cp_rate:7.2f}  (goal ≥ 0.8)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
