"""The object stores of a ``with-infra`` run, for the suites: one boto3 client per region, what they hold.

``deploy/dev/stack.py with-infra`` starts one S3 endpoint (VersityGW) per region and one for the publishers'
images, and names their description in ``OFFERFLOW_OBJECTSTORES_FILE`` (``<run_dir>/objectstores.json``: the dev
CA, each endpoint's URL, bucket, signing region and credentials). Checks read the regions through here instead of
guessing a folder layout on disk.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import pytest


@dataclass(frozen=True)
class Store:
    """One endpoint: a region, or the publishers' storage."""

    name: str
    endpoint_url: str
    bucket: str
    signing_region: str
    access_key_id: str
    secret_access_key: str
    ca_file: str | None = None

    def __repr__(self) -> str:  # never the secret
        return f"Store({self.name!r}, {self.endpoint_url}/{self.bucket})"


@dataclass(frozen=True)
class ObjectStores:
    ca_file: str
    regions: tuple[Store, ...]
    publisher: Store

    def region(self, name: str) -> Store:
        return next(r for r in self.regions if r.name == name)


class Replica(NamedTuple):
    region: str
    key: str
    size: int | None  # bytes of the content the replica names; None when that content is missing


class Upload(NamedTuple):
    region: str
    key: str
    upload_id: str


def config_file() -> Path | None:
    named = os.environ.get("OFFERFLOW_OBJECTSTORES_FILE")
    return Path(named) if named else None


def load(path: Path | None = None) -> ObjectStores:
    """The stores of this run; skips the test (a failure under ``make test``) when none are running."""
    path = path or config_file()
    if path is None:
        pytest.skip("needs the object stores of deploy/dev/stack.py with-infra (OFFERFLOW_OBJECTSTORES_FILE)")
    conf = json.loads(path.read_text())
    return ObjectStores(ca_file=conf["ca_file"], regions=tuple(Store(**r) for r in conf["regions"]),
                        publisher=Store(**conf["publisher"]))


@cache
def client(store: Store) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=store.endpoint_url, region_name=store.signing_region,
                        aws_access_key_id=store.access_key_id, aws_secret_access_key=store.secret_access_key,
                        verify=store.ca_file or True,
                        config=Config(retries={"max_attempts": 2}, connect_timeout=3, read_timeout=30,
                                      s3={"addressing_style": "path"}))


def keys(store: Store, prefix: str = "") -> dict[str, int]:
    """Every object under ``prefix`` in the store's bucket, with its size."""
    found: dict[str, int] = {}
    for page in client(store).get_paginator("list_objects_v2").paginate(Bucket=store.bucket, Prefix=prefix):
        found.update({o["Key"]: int(o["Size"]) for o in page.get("Contents", [])})
    return found


def replicas(publisher: str, offer: str, stores: ObjectStores | None = None) -> list[Replica]:
    """The replicas of one offer in every region, in region order.

    A replica is either an object under ``<publisher>/<offer>/`` or, content-addressed, a small JSON manifest there
    whose ``content`` names the key holding the bytes; then ``size`` is that content object's real size (None if it
    is missing), so a manifest pointing at nothing is visible as such."""
    stores = stores or load()
    found: list[Replica] = []
    for region in stores.regions:
        for key, size in sorted(keys(region, f"{publisher}/{offer}/").items()):
            target = _manifest_target(region, key) if key.endswith(".json") else None
            found.append(Replica(region.name, key, _size(region, target) if target else size))
    return found


def open_uploads(stores: ObjectStores | None = None) -> list[Upload]:
    """Unfinished multipart uploads in every region (each is an orphan once provisioning is idle)."""
    stores = stores or load()
    found: list[Upload] = []
    for region in stores.regions:
        for page in client(region).get_paginator("list_multipart_uploads").paginate(Bucket=region.bucket):
            found += [Upload(region.name, u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
    return found


def _manifest_target(store: Store, key: str) -> str | None:
    body = client(store).get_object(Bucket=store.bucket, Key=key)["Body"].read()
    try:
        target = json.loads(body).get("content")
    except (ValueError, AttributeError):
        return None
    return target if isinstance(target, str) else None


def _size(store: Store, key: str) -> int | None:
    from botocore.exceptions import ClientError

    try:
        return int(client(store).head_object(Bucket=store.bucket, Key=key)["ContentLength"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
