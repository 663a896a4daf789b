"""Certify a 1 GiB image and, in the same run, time the least any certifier must do: read it and SHA-256 it.

    uv run python bench/certify.py [--size-mib 1024] [--rounds 3]

The image is the builder's compliant Linux disk grown to the size asked for, its free space filled with
random bytes (written for real, not sparse), so both timings read the same real data. Both passes read a
page-cached file: the ratio compares CPU work, which is what the certifier adds. Goal: ratio >= 0.7.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from offerflow_certification import report
from offerflow_certification.adapters.source import ImageIntake
from offerflow_certification.image.certifier import Profile
from offerflow_shared.sources import UrlDiskSource
from tests.images.builder import FOOTER_SIZE, MIB, build_linux_vhd

CHUNK = 4 * MIB


def fill(path: Path, size_mib: int) -> None:
    """Random bytes over the unused end of the disk, leaving the file system (first 40 MiB) intact."""
    start, end = 40 * MIB, size_mib * MIB
    block = os.urandom(CHUNK)
    with open(path, "r+b") as f:
        f.seek(start)
        for _ in range((end - start) // CHUNK):
            f.write(block)


def baseline(path: Path) -> float:
    started = time.perf_counter()
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return time.perf_counter() - started


async def certify(path: Path) -> float:
    source = ImageIntake(UrlDiskSource(max_bytes=1 << 40, chunk_bytes=CHUNK, local_files=True), chunk_bytes=CHUNK)
    disk = report.DiskId("bench", "1.0.0", "os", path.as_uri())
    started = time.perf_counter()
    async with source.fetch(path.as_uri()) as image:
        findings, os_result = await asyncio.to_thread(report.run_tests, image, Profile())
        result = report.build(disk, image, findings, os_result)
    elapsed = time.perf_counter() - started
    assert result.test_result == "Pass", [t for t in result.tests if t.result == "Failed"]
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="offerflow-bench-") as tmp:
        path = build_linux_vhd(Path(tmp) / "bench.vhd", size_mib=args.size_mib)
        fill(path, args.size_mib)
        size = path.stat().st_size
        baseline(path)  # warm the page cache so neither side pays for the disk
        base = min(baseline(path) for _ in range(args.rounds))
        cert = min(asyncio.run(certify(path)) for _ in range(args.rounds))
    mb = (size - FOOTER_SIZE) / 1e6
    print(f"image: {size} bytes ({args.size_mib} MiB, real data, not sparse), best of {args.rounds}")
    print(f"baseline read + hashlib.sha256: {mb / base:8.1f} MB/s ({base:.3f} s)")
    print(f"certify (hash + all tests):     {mb / cert:8.1f} MB/s ({cert:.3f} s)")
    print(f"ratio certify / baseline:       {base / cert:8.3f} (goal >= 0.7)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
