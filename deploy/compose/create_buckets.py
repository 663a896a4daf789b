"""Create each region's bucket named in the region map, where it is missing (compose's one-shot `buckets-init`).

Provisioning itself never creates buckets: in production they exist, made by whoever owns the storage. The
compose setup starts empty object stores, so this job makes their buckets once; run again, it changes nothing.
It reads the same map as provisioning (``OFFERFLOW_PROVISIONING_REGION_MAP_FILE``, or ``--map``), so the two
cannot disagree on a bucket name. Prints one line per region; exits 1 naming every region that failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from offerflow_shared.regionmap import RegionEndpoint, RegionMapError, client_for, load

# Codes meaning "the bucket is there and ours": a concurrent or earlier run made it.
_ALREADY = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})


def ensure_bucket(endpoint: RegionEndpoint, client: Any) -> str:
    """'exists' or 'created'; raises on anything else (no access, endpoint down)."""
    try:
        client.head_bucket(Bucket=endpoint.bucket)
        return "exists"
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    try:
        client.create_bucket(Bucket=endpoint.bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in _ALREADY:
            raise
        return "exists"
    return "created"


def run(map_file: Path, *, attempts: int = 5, delay: float = 2.0, timeout: float = 10.0) -> int:
    try:
        regions = load(map_file)
    except RegionMapError as exc:
        print(exc, file=sys.stderr)
        return 1
    failed: list[str] = []
    for endpoint in regions.regions:
        client = client_for(endpoint, timeout)
        for attempt in range(1, attempts + 1):
            try:
                print(f"{endpoint.name}: {endpoint.shown} {ensure_bucket(endpoint, client)}", flush=True)
                break
            except (ClientError, BotoCoreError) as exc:  # the message holds no credentials
                if attempt == attempts:
                    print(f"{endpoint.name}: {endpoint.shown} FAILED: {exc}", file=sys.stderr, flush=True)
                    failed.append(endpoint.name)
                else:
                    time.sleep(delay)
    if failed:
        print(f"buckets missing in: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--map", type=Path, default=os.environ.get("OFFERFLOW_PROVISIONING_REGION_MAP_FILE"),
                        help="the region map (default: $OFFERFLOW_PROVISIONING_REGION_MAP_FILE)")
    parser.add_argument("--attempts", type=int, default=5)
    args = parser.parse_args(argv)
    if args.map is None:
        parser.error("no region map: pass --map or set OFFERFLOW_PROVISIONING_REGION_MAP_FILE")
    return run(Path(args.map), attempts=max(1, args.attempts))


if __name__ == "__main__":
    raise SystemExit(main())
