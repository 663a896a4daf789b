"""Replicas in S3-compatible object storage: one bucket per region, the same key layout as the folders.

Calls block (boto3); the replicator runs them in a worker thread. A copy is a multipart upload: parts of
``part_size`` bytes, each sent with its SHA-256 so the server verifies every byte on arrival; the object
appears only when the upload completes, and the checksum the server computed over the assembled object must
match ours when the server reports one; with ``verify_readback`` (the default) the object is then read
back and hashed, so even storage that ignores checksums is verified. Then a marker object ``<key>.sha256``
records the whole disk's SHA-256; like the folder store, only a replica with a marker counts as verified.
A copy started again (after a crash or a transient error) first aborts the multipart uploads left for its
key, so it restarts cleanly and no orphan parts pile up.

Connection failures, timeouts and 5xx/throttling answers become ``ConnectionError`` (transient: the
replicator retries with backoff); anything else (no such bucket, access denied) is permanent and names
the bucket and the storage's error code.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError

from offerflow_provisioning.errors import PermanentCopyError
from offerflow_provisioning.rules import ReplicaKey

MIB = 1024 * 1024
MARKER_SUFFIX = ".sha256"
_TRANSIENT_CODES = frozenset(
    {"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "Throttling", "RequestTimeTooSkewed"}
)
_MISSING = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})


class S3RegionStore:
    def __init__(
        self,
        *,
        endpoint_url: str | None,
        bucket_template: str = "offerflow-{region}",
        region_name: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        part_size: int = 8 * MIB,
        create_buckets: bool = True,
        verify_readback: bool = True,
        timeout: float = 30.0,
        client: Any = None,
    ) -> None:
        if part_size < 5 * MIB:
            raise ValueError("S3 parts must be at least 5 MiB")
        self.bucket_template = bucket_template
        self.part_size = part_size
        self.create_buckets = create_buckets
        self.verify_readback = verify_readback
        self.endpoint_url = endpoint_url
        # boto3 clients are thread-safe; one serves every copy. Its own retries stay short: ours back off.
        self.client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region_name,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"max_attempts": 2, "mode": "standard"},
                signature_version="s3v4",
            ),
        )
        self._ready_buckets: set[str] = set()

    def __repr__(self) -> str:  # never the keys
        return f"S3RegionStore(endpoint_url={self.endpoint_url!r}, bucket_template={self.bucket_template!r})"

    def bucket(self, key: ReplicaKey) -> str:
        return self.bucket_template.format(region=key.region)

    @staticmethod
    def object_key(key: ReplicaKey) -> str:
        return "/".join(key.parts()[1:])

    def location(self, key: ReplicaKey) -> str:
        return f"s3://{self.bucket(key)}/{self.object_key(key)}"

    def verified_sha256(self, key: ReplicaKey) -> str | None:
        bucket, name = self.bucket(key), self.object_key(key)
        with _translated(bucket):
            try:
                marker = self.client.get_object(Bucket=bucket, Key=name + MARKER_SUFFIX)["Body"].read()
                self.client.head_object(Bucket=bucket, Key=name)
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    return None
                raise
        text = marker.decode("ascii", "replace").strip()
        return text if len(text) == 64 else None

    def open_writer(self, key: ReplicaKey) -> S3Writer:
        bucket, name = self.bucket(key), self.object_key(key)
        with _translated(bucket):
            self._ensure_bucket(bucket)
            self.client.delete_object(Bucket=bucket, Key=name + MARKER_SUFFIX)
            # Parts of an interrupted copy are unverified leftovers: throw them away and start clean.
            listing = self.client.list_multipart_uploads(Bucket=bucket, Prefix=name)
            for upload in listing.get("Uploads", []):
                if upload["Key"] == name:
                    self.client.abort_multipart_upload(Bucket=bucket, Key=name, UploadId=upload["UploadId"])
        return S3Writer(self, bucket, name)

    def _ensure_bucket(self, bucket: str) -> None:
        if bucket in self._ready_buckets:
            return
        try:
            self.client.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if _code(exc) not in _MISSING or not self.create_buckets:
                raise
            try:
                self.client.create_bucket(Bucket=bucket)
            except ClientError as again:
                if _code(again) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
        self._ready_buckets.add(bucket)


class S3Writer:
    def __init__(self, store: S3RegionStore, bucket: str, name: str) -> None:
        self._store = store
        self._client = store.client
        self._bucket = bucket
        self._name = name
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        self._upload_id: str | None = None

    def write(self, chunk: bytes) -> None:
        self._buffer += chunk
        while len(self._buffer) >= self._store.part_size:
            part = bytes(self._buffer[: self._store.part_size])
            del self._buffer[: self._store.part_size]
            self._send_part(part)

    def _send_part(self, data: bytes) -> None:
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        with _translated(self._bucket):
            if self._upload_id is None:
                self._upload_id = self._client.create_multipart_upload(
                    Bucket=self._bucket, Key=self._name, ChecksumAlgorithm="SHA256"
                )["UploadId"]
            number = len(self._parts) + 1
            answer = self._client.upload_part(
                Bucket=self._bucket,
                Key=self._name,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=data,
                ChecksumSHA256=checksum,
            )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": checksum})

    def _composite(self) -> str:
        digests = b"".join(base64.b64decode(p["ChecksumSHA256"]) for p in self._parts)
        return base64.b64encode(hashlib.sha256(digests).digest()).decode()

    def commit(self, sha256: str) -> None:
        with _translated(self._bucket):
            if self._upload_id is None:
                # Smaller than one part: a single verified PUT (also empty disks).
                data = bytes(self._buffer)
                self._client.put_object(
                    Bucket=self._bucket,
                    Key=self._name,
                    Body=data,
                    ChecksumSHA256=base64.b64encode(hashlib.sha256(data).digest()).decode(),
                )
            else:
                if self._buffer:
                    self._send_part(bytes(self._buffer))
                    self._buffer.clear()
                done = self._client.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=self._name,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
                # The server's checksum of the assembled object (SHA-256 of the part digests) must be ours.
                theirs = str(done.get("ChecksumSHA256") or "").split("-")[0]
                if theirs and theirs != self._composite():
                    raise ConnectionError(f"bucket {self._bucket}: the stored object's checksum differs")
            if self._store.verify_readback:
                self._read_back(sha256)
            self._client.put_object(
                Bucket=self._bucket, Key=self._name + MARKER_SUFFIX, Body=(sha256 + "\n").encode()
            )

    def _read_back(self, sha256: str) -> None:
        """Hash the stored object as the storage serves it: a server that ignores checksums is caught too."""
        body = self._client.get_object(Bucket=self._bucket, Key=self._name)["Body"]
        digest = hashlib.sha256()
        while chunk := body.read(self._store.part_size):
            digest.update(chunk)
        if digest.hexdigest() != sha256:
            # Corrupted on the way or at rest; a fresh copy may succeed, so this is worth retrying.
            raise ConnectionError(f"bucket {self._bucket}: the stored object does not match the disk's SHA-256")

    def discard(self) -> None:
        self._buffer.clear()
        if self._upload_id is None:
            return
        with suppress(ClientError, BotoCoreError):  # the next open_writer aborts what is left
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=self._name, UploadId=self._upload_id)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def _translated(bucket: str) -> Iterator[None]:
    """Maps botocore errors onto the replicator's vocabulary: transient OSError or PermanentCopyError."""
    try:
        yield
    except (BotoConnectionError, ConnectTimeoutError, ReadTimeoutError) as exc:
        raise ConnectionError(f"bucket {bucket}: object storage unreachable ({type(exc).__name__})") from exc
    except ClientError as exc:
        code = _code(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _TRANSIENT_CODES or status >= 500:
            raise ConnectionError(f"bucket {bucket}: object storage answered {code or status}") from exc
        raise PermanentCopyError(f"bucket {bucket}: object storage refused the copy ({code or status})") from exc
    except BotoCoreError as exc:
        raise ConnectionError(f"bucket {bucket}: {type(exc).__name__}") from exc
