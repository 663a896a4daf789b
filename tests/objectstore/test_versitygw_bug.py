"""VersityGW 1.8.0's known bug with UploadPartCopy and SHA-256 checksums, shown on a real endpoint.

Provisioning works around it: its multipart uploads never copy parts server-side into an upload created with a
checksum algorithm (see offerflow_provisioning.adapters.s3). When this test starts failing, VersityGW has fixed
the bug (check the pinned version in deploy/dev/objectstore.py): the workaround (uploads without a checksum
algorithm for part copies, verified by us) can go, and this test with it.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests import objectstores

pytestmark = pytest.mark.integration

PART = 5 * 1024 * 1024  # S3's minimum size of every part but the last


@pytest.fixture
def region() -> Iterator[objectstores.Store]:
    store = objectstores.load().regions[0]
    yield store
    s3 = objectstores.client(store)
    for key in objectstores.keys(store, "known-bug/"):
        s3.delete_object(Bucket=store.bucket, Key=key)
    for upload in objectstores.open_uploads():
        if upload.key.startswith("known-bug/"):
            s3.abort_multipart_upload(Bucket=store.bucket, Key=upload.key, UploadId=upload.upload_id)


def _b64sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_part_copy_into_a_sha256_upload_cannot_complete(region: objectstores.Store) -> None:
    """Completion with the parts' true checksums is refused; with the server's own, the object's checksum is wrong."""
    s3, bucket, run = objectstores.client(region), region.bucket, uuid.uuid4().hex[:8]
    source = f"known-bug/{run}/source"
    data = bytes(range(256)) * (2 * PART // 256) + b"tail"
    s3.put_object(Bucket=bucket, Key=source, Body=data, ChecksumSHA256=_b64sha256(data))
    assert s3.head_object(Bucket=bucket, Key=source, ChecksumMode="ENABLED")["ChecksumSHA256"] == _b64sha256(data)

    target = f"known-bug/{run}/target"
    upload = s3.create_multipart_upload(Bucket=bucket, Key=target, ChecksumAlgorithm="SHA256")["UploadId"]
    ranges = [(0, PART - 1), (PART, len(data) - 1)]
    parts = []
    for number, (first, last) in enumerate(ranges, start=1):
        copied = s3.upload_part_copy(Bucket=bucket, Key=target, UploadId=upload, PartNumber=number,
                                     CopySource={"Bucket": bucket, "Key": source},
                                     CopySourceRange=f"bytes={first}-{last}")["CopyPartResult"]
        parts.append({"PartNumber": number, "ETag": copied["ETag"],
                      "ChecksumSHA256": copied.get("ChecksumSHA256")})
    # The bug: every part carries the source's whole-object checksum instead of its own bytes' SHA-256.
    assert [p["ChecksumSHA256"] for p in parts] == [_b64sha256(data)] * 2
    # So completing with each part's true checksum is refused, although every byte was copied right.
    true_parts = [{**p, "ChecksumSHA256": _b64sha256(data[first:last + 1])}
                  for p, (first, last) in zip(parts, ranges, strict=True)]
    with pytest.raises(ClientError) as refused:
        s3.complete_multipart_upload(Bucket=bucket, Key=target, UploadId=upload,
                                     MultipartUpload={"Parts": true_parts})
    assert refused.value.response["Error"]["Code"] == "InvalidPart"
    # Completing with what the server returned works, but the object's composite checksum is then built from the
    # wrong part checksums: a client verifying it against the true bytes' composite must refuse the object.
    s3.complete_multipart_upload(Bucket=bucket, Key=target, UploadId=upload, MultipartUpload={"Parts": parts})
    stored = s3.head_object(Bucket=bucket, Key=target, ChecksumMode="ENABLED")["ChecksumSHA256"]
    true_composite = _b64sha256(b"".join(hashlib.sha256(data[f:last + 1]).digest() for f, last in ranges))
    assert stored.split("-")[0] != true_composite
    assert stored.split("-")[0] == _b64sha256(hashlib.sha256(data).digest() * 2)
    assert hashlib.sha256(s3.get_object(Bucket=bucket, Key=target)["Body"].read()).digest() == \
        hashlib.sha256(data).digest()  # the bytes themselves are right: only the checksums are wrong


def test_part_copy_without_a_checksum_algorithm_completes(region: objectstores.Store) -> None:
    """The workaround's path: the same copy into an upload created without a checksum algorithm works."""
    s3, bucket, run = objectstores.client(region), region.bucket, uuid.uuid4().hex[:8]
    source, target = f"known-bug/{run}/source", f"known-bug/{run}/target"
    data = bytes(reversed(range(256))) * (2 * PART // 256) + b"tail"
    s3.put_object(Bucket=bucket, Key=source, Body=data, ChecksumSHA256=_b64sha256(data))
    upload = s3.create_multipart_upload(Bucket=bucket, Key=target)["UploadId"]
    parts = []
    for number, (first, last) in enumerate([(0, PART - 1), (PART, len(data) - 1)], start=1):
        copied = s3.upload_part_copy(Bucket=bucket, Key=target, UploadId=upload, PartNumber=number,
                                     CopySource={"Bucket": bucket, "Key": source},
                                     CopySourceRange=f"bytes={first}-{last}")["CopyPartResult"]
        parts.append({"PartNumber": number, "ETag": copied["ETag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key=target, UploadId=upload, MultipartUpload={"Parts": parts})
    assert hashlib.sha256(s3.get_object(Bucket=bucket, Key=target)["Body"].read()).digest() == \
        hashlib.sha256(data).digest()
