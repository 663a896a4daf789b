"""One disk image to 8 real region endpoints with the provisioning replicator, against bare boto3 in the same run.

Starts one VersityGW endpoint per region (``deploy/dev/objectstore.py``, HTTPS with the dev CA) in a temporary
run directory and stops them at the end. Both sides send the same image to the same 8 endpoints:

- **ours**: ``Replicator.replicate`` of one certified disk: one streaming read of the source fanned out to every
  region's multipart upload, each part's SHA-256 checked by the server, the whole disk checked against the
  certified SHA-256 before completing, then the manifests.
- **bare**: ``boto3`` ``upload_file`` of the same file to each endpoint, all 8 at once, multipart with the same
  part size and one part in flight per region (the replicator also sends one part to each region at a time);
  nothing verified beyond what boto3 does by default (CRC32 part checksums; ``--bare-sha256`` makes it send
  SHA-256 ones like the replicator, which separates the cost of that verification from the fan-out's).

Runs alternate (bare, ours, bare, ours, ...) so both see the same noise; every run uses fresh random content,
because the storage is content-addressed and a repeated image would only get manifests. Objects are deleted
after each run. Prints MB/s written (image x regions), best and median, for both, the ratio ours/bare (goal >= 0.8), and
bytes read from the source per replication (goal: exactly one read of the image; bare reads it once per region).

    uv run python bench/replicate.py [--mib 1024] [--runs 3] [--part-mib 8] [--bare-sha256]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "deploy/dev")]

import boto3  # noqa: E402
from boto3.s3.transfer import TransferConfig  # noqa: E402
from botocore.config import Config  # noqa: E402
from objectstore import REGIONS, ObjectStores  # noqa: E402

from offerflow_contract.events import CertifiedDisk  # noqa: E402
from offerflow_provisioning import rules  # noqa: E402
from offerflow_provisioning.adapters.regions import Content  # noqa: E402
from offerflow_provisioning.adapters.s3 import S3RegionStore  # noqa: E402
from offerflow_provisioning.replicator import Replicator  # noqa: E402
from offerflow_shared.regionmap import RegionEndpoint  # noqa: E402

MIB = 1024 * 1024


def disk_source() -> Any:
    """The file source provisioning's bootstrap uses (its own adapter, or the shared one once it moves there)."""
    try:
        from offerflow_provisioning.adapters.sources import FileDiskSource, SchemeRouter

        return SchemeRouter({"file": FileDiskSource()})
    except ImportError:
        from offerflow_shared.sources import UrlDiskSource

        return UrlDiskSource(max_bytes=1 << 40, local_files=True)


def fresh_image(path: Path, size: int) -> str:
    """Random bytes written over the same file (nothing compresses or dedupes them); returns the SHA-256."""
    digest = hashlib.sha256()
    with path.open("r+b" if path.exists() else "wb") as f:
        left = size
        while left:
            block = os.urandom(min(left, 16 * MIB))
            digest.update(block)
            f.write(block)
            left -= len(block)
        f.truncate(size)
    return digest.hexdigest()


def rchar() -> int:
    """Bytes this process passed through read() (all threads): the source reads of whichever side ran."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    return 0


class Bench:
    def __init__(self, stores: ObjectStores, image: Path, size: int, part: int, bare_sha256: bool) -> None:
        self.stores, self.image, self.size, self.part = stores, image, size, part
        # boto3 sends CRC32 checksums by default; SHA-256 (what the replicator sends) costs more on both ends.
        self.bare_extra = {"ChecksumAlgorithm": "SHA256"} if bare_sha256 else {}
        self.regions = list(stores.regions)
        ca = stores.tls.ca_file
        self.endpoints = {n: RegionEndpoint.model_validate(stores.endpoints[n].entry(ca)) for n in self.regions}
        # Plain boto3 clients: default retries and checksums (CRC32 per request), the dev CA, path-style keys.
        self.bare_clients = {n: boto3.client(
            "s3", endpoint_url=e.endpoint_url, region_name=e.signing_region, aws_access_key_id=e.access_key_id,
            aws_secret_access_key=e.secret_access_key.get_secret_value() if e.secret_access_key else None,
            verify=str(ca), config=Config(s3={"addressing_style": "path"}, max_pool_connections=4),
        ) for n, e in self.endpoints.items()}

    def bare(self, run: int) -> tuple[float, int]:
        """Seconds and bytes read: upload_file to every endpoint at once, one part in flight per endpoint."""
        cfg = TransferConfig(multipart_threshold=self.part, multipart_chunksize=self.part, max_concurrency=1,
                             use_threads=False)
        key = f"bench/bare/{run}"

        def one(name: str) -> None:
            self.bare_clients[name].upload_file(str(self.image), self.endpoints[name].bucket, key, Config=cfg,
                                                ExtraArgs=self.bare_extra)

        before, started = rchar(), time.perf_counter()
        with ThreadPoolExecutor(len(self.regions)) as pool:
            list(pool.map(one, self.regions))
        elapsed, read = time.perf_counter() - started, rchar() - before
        for name, client in self.bare_clients.items():
            head = client.head_object(Bucket=self.endpoints[name].bucket, Key=key)
            if head["ContentLength"] != self.size:
                raise SystemExit(f"bare upload to {name} stored {head['ContentLength']} bytes")
            client.delete_object(Bucket=self.endpoints[name].bucket, Key=key)
        return elapsed, read

    def ours(self, run: int, sha: str) -> tuple[float, int, int]:
        """Seconds, bytes read (rchar) and the replicator's own count of source bytes."""
        return asyncio.run(self._ours(run, sha))

    async def _ours(self, run: int, sha: str) -> tuple[float, int, int]:
        stores = {n: S3RegionStore(e, timeout=60.0) for n, e in self.endpoints.items()}
        replicator = Replicator(disk_source(), stores, part_size=self.part, parallel=1, attempts=2, retry_delay=1)
        disk = CertifiedDisk(plan_id="gold", image_version=f"1.0.{run}", disk="os", url=self.image.as_uri(),
                             sha256=sha, size_bytes=self.size)
        jobs = rules.plan_copies("bench", "offer", self.regions, [disk])
        done: list[str] = []

        async def progress(i: int, where: str) -> None:
            done.append(where)

        before, started = rchar(), time.perf_counter()
        result = await replicator.replicate(jobs, progress)
        elapsed, read = time.perf_counter() - started, rchar() - before
        if result.reasons or len(result.replicas) != len(self.regions) or len(done) != len(self.regions):
            raise SystemExit(f"replication failed: {result.reasons}")
        content = Content(sha, self.size)
        for job in jobs:
            store = stores[job.key.region]
            if not store.has_content(content):
                raise SystemExit(f"{job.key.region}: the replica is missing after replication")
            store.client.delete_object(Bucket=store.bucket, Key=content.key)
            store.client.delete_object(Bucket=store.bucket, Key=store.manifest_key(job.key))
        return elapsed, read, replicator.bytes_read


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=1024, help="image size in MiB (default 1024)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each side, alternating (default 3)")
    parser.add_argument("--part-mib", type=int, default=8, help="multipart part size, both sides (default 8)")
    parser.add_argument("--bare-sha256", action="store_true",
                        help="the baseline sends SHA-256 part checksums too (the replicator's), not boto3's CRC32")
    parser.add_argument("--dir", type=Path, default=None, help="where the temporary run directory goes")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-replicate-", dir=args.dir))
    stores = ObjectStores(work / "run", REGIONS)
    try:
        stores.start()
        size, part = args.mib * MIB, args.part_mib * MIB
        image = work / "image.vhd"
        bench = Bench(stores, image, size, part, args.bare_sha256)
        total_mb = size * len(bench.regions) / 1e6
        bare_s: list[float] = []
        ours_s: list[float] = []
        bare_read: list[int] = []
        ours_read: list[int] = []
        counted: list[int] = []
        for run in range(args.runs):
            fresh_image(image, size)
            t, r = bench.bare(run)
            bare_s.append(t)
            bare_read.append(r)
            print(f"  run {run + 1}: bare  {t:7.2f} s  {total_mb / t:7.1f} MB/s", flush=True)
            sha = fresh_image(image, size)
            t, r, c = bench.ours(run, sha)
            ours_s.append(t)
            ours_read.append(r)
            counted.append(c)
            print(f"  run {run + 1}: ours  {t:7.2f} s  {total_mb / t:7.1f} MB/s", flush=True)
    finally:
        stores.stop()
        shutil.rmtree(work, ignore_errors=True)

    def rates(seconds: list[float]) -> tuple[float, float]:
        return total_mb / min(seconds), total_mb / statistics.median(seconds)

    (bare_best, bare_med), (ours_best, ours_med) = rates(bare_s), rates(ours_s)
    print(f"image {args.mib} MiB x {len(bench.regions)} region endpoints (VersityGW {len(bench.regions)} processes, "
          f"HTTPS) = {total_mb:.0f} MB written per run, part {args.part_mib} MiB, {args.runs} runs each")
    bare_sums = "SHA-256" if args.bare_sha256 else "boto3's default CRC32"
    print(f"bare boto3 upload_file   best {bare_best:7.1f} MB/s  median {bare_med:7.1f} MB/s  "
          f"({bare_sums} part checksums)")
    print(f"replicator               best {ours_best:7.1f} MB/s  median {ours_med:7.1f} MB/s  "
          "(part SHA-256 checked by the server, disk SHA-256 checked, manifests)")
    print(f"source bytes read per replication (image {size} bytes): ours {max(counted)} counted by the "
          f"replicator = {max(counted) / size:.2f} x image (read() total {max(ours_read) / size:.2f} x); "
          f"bare read() total {min(bare_read) / size:.2f} x image")
    print(f"ratio  {ours_med / bare_med:.2f}  (ours/bare, medians; best/best {ours_best / bare_best:.2f}; goal >= 0.8)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
