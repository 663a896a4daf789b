"""Publishers' disk images in the dev "publisher" object store, read back through presigned HTTPS URLs.

The original marketplace took each disk as a URL with a time-limited signature (a SAS URI). The dev stack's
equivalent is an S3 endpoint with TLS (``deploy/dev/objectstore.py``): the image is uploaded there and the offer
names a SigV4 presigned GET URL of it, which validation checks for expiry and certification and provisioning read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

WEEK = 7 * 24 * 3600  # the longest validity SigV4 allows


def publisher_store(objectstores_file: Path) -> dict[str, Any]:
    """The publisher endpoint of a run: ``endpoint_url``, ``bucket``, ``signing_region``, credentials, ``ca_file``."""
    conf = json.loads(objectstores_file.read_text())
    return dict(conf["publisher"])


def _client(store: Mapping[str, Any]) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=store["endpoint_url"], region_name=store["signing_region"],
                        aws_access_key_id=store["access_key_id"], aws_secret_access_key=store["secret_access_key"],
                        verify=store.get("ca_file") or True,
                        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                      retries={"max_attempts": 3}))


def upload_presigned(store: Mapping[str, Any], path: Path, key: str, *, expires_in: int = WEEK) -> str:
    """Upload ``path`` as ``key`` and return a presigned GET URL of it, valid ``expires_in`` seconds."""
    client = _client(store)
    client.upload_file(str(path), store["bucket"], key)
    url: str = client.generate_presigned_url("get_object", Params={"Bucket": store["bucket"], "Key": key},
                                             ExpiresIn=expires_in)
    return url
