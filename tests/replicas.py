"""Checks of the replicas provisioning leaves in the region endpoints (e2e and chaos suites).

A replica is a manifest ``<publisher>/<offer>/<plan>/<version>/<disk>.vhd.json`` naming content-addressed bytes
(``content/sha256/<hex>``). It verifies when the manifest names the image's SHA-256 and the region stored exactly
the image: the server's own checksum of the stored object (SHA-256 over its parts' SHA-256s, which it checked on
arrival) equals the one computed here from the image, so nothing is downloaded to check 8 regions.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from tests import objectstores

PART = 8 * 1024 * 1024  # provisioning's default OFFERFLOW_PROVISIONING_PART_MIB


def composite_sha256(image: Path, part: int = PART) -> str:
    digests = []
    with image.open("rb") as fh:
        while chunk := fh.read(part):
            digests.append(hashlib.sha256(chunk).digest())
    if not digests:
        digests.append(hashlib.sha256(b"").digest())
    return base64.b64encode(hashlib.sha256(b"".join(digests)).digest()).decode() + f"-{len(digests)}"


def problems(publisher: str, offer: str, image: Path, stores: objectstores.ObjectStores | None = None) -> list[str]:
    """What is wrong with the offer's replicas (empty when every region holds a verified copy)."""
    stores = stores or objectstores.load()
    sha = hashlib.sha256(image.read_bytes()).hexdigest()
    expected = composite_sha256(image)
    found: list[str] = []
    for region in stores.regions:
        client = objectstores.client(region)
        manifests = [k for k in objectstores.keys(region, f"{publisher}/{offer}/") if k.endswith(".vhd.json")]
        if len(manifests) != 1:
            found.append(f"{region.name}: {len(manifests)} replica manifests")
            continue
        body = json.loads(client.get_object(Bucket=region.bucket, Key=manifests[0])["Body"].read())
        if body.get("sha256") != sha or body.get("content") != f"content/sha256/{sha}":
            found.append(f"{region.name}: the manifest names {body.get('sha256')}, not the image's {sha}")
            continue
        head = client.head_object(Bucket=region.bucket, Key=body["content"], ChecksumMode="ENABLED")
        if head["ContentLength"] != image.stat().st_size or head.get("ChecksumSHA256") != expected:
            found.append(f"{region.name}: stored {head['ContentLength']} bytes with checksum "
                         f"{head.get('ChecksumSHA256')}, expected {image.stat().st_size} bytes, {expected}")
    return found


def stored_at(publisher: str, offer: str, stores: objectstores.ObjectStores | None = None) -> dict[str, str]:
    """Region -> LastModified of the content each region holds for the offer (to see that nothing is redone)."""
    stores = stores or objectstores.load()
    out: dict[str, str] = {}
    for region in stores.regions:
        client = objectstores.client(region)
        for key in objectstores.keys(region, f"{publisher}/{offer}/"):
            if key.endswith(".vhd.json"):
                target = json.loads(client.get_object(Bucket=region.bucket, Key=key)["Body"].read())["content"]
                out[region.name] = str(client.head_object(Bucket=region.bucket, Key=target)["LastModified"])
    return out
