"""tests/objectstores.py against with-infra's real stores: replicas through manifests, and open uploads."""

from __future__ import annotations

import json
import uuid

import pytest

from tests import objectstores

pytestmark = pytest.mark.integration


def test_replicas_follow_manifests_to_their_content_and_uploads_are_listed() -> None:
    stores = objectstores.load()
    first, second = stores.regions[0], stores.regions[1]
    offer, content = f"helper-{uuid.uuid4().hex[:8]}", f"content/sha256/helper-{uuid.uuid4().hex}"
    manifest = f"probe/{offer}/plan/1.0.0/os.vhd.json"
    s3a, s3b = objectstores.client(first), objectstores.client(second)
    s3a.put_object(Bucket=first.bucket, Key=content, Body=b"x" * 1234)
    s3a.put_object(Bucket=first.bucket, Key=manifest, Body=json.dumps({"content": content}).encode())
    s3b.put_object(Bucket=second.bucket, Key=manifest, Body=json.dumps({"content": content}).encode())  # dangling
    s3b.put_object(Bucket=second.bucket, Key=f"probe/{offer}/plan/1.0.0/data.vhd", Body=b"y" * 77)  # plain copy
    upload = s3b.create_multipart_upload(Bucket=second.bucket, Key=f"probe/{offer}/unfinished")["UploadId"]
    try:
        assert objectstores.replicas("probe", offer, stores) == [
            (first.name, manifest, 1234),
            (second.name, f"probe/{offer}/plan/1.0.0/data.vhd", 77),
            (second.name, manifest, None),
        ]
        assert (second.name, f"probe/{offer}/unfinished", upload) in objectstores.open_uploads(stores)
    finally:
        s3b.abort_multipart_upload(Bucket=second.bucket, Key=f"probe/{offer}/unfinished", UploadId=upload)
        for store, s3 in ((first, s3a), (second, s3b)):
            for key in objectstores.keys(store, f"probe/{offer}/"):
                s3.delete_object(Bucket=store.bucket, Key=key)
        s3a.delete_object(Bucket=first.bucket, Key=content)
    assert not [u for u in objectstores.open_uploads(stores) if offer in u.key]
