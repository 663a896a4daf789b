"""One region's replicas in S3-compatible object storage (boto3), content-addressed (see ``regions.py``).

Content is uploaded as a multipart upload, each part sent with its SHA-256 so the server verifies every byte on
arrival; the object appears only when the upload completes, and the checksum the server reports for the
assembled object (SHA-256 over the part digests) must equal ours, or the object is deleted and the copy refused.
Storage that reports no checksum is read back and hashed (``verify_readback="auto"``). The whole disk's SHA-256
is checked by the replicator against the certified one *before* completing, so a content key never holds other
bytes. Uploads are created with a checksum algorithm and never use UploadPartCopy (VersityGW 1.8.0 mis-stores
part checksums on that path).

Connection failures, timeouts, 5xx/throttling answers and an upload aborted under us become ``ConnectionError``
(transient: the replicator retries that region alone); anything else (no such bucket, access denied) is
permanent and names the region, the bucket and the storage's error code. Keys and secrets never appear in logs.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError

from offerflow_provisioning.adapters.regions import Content
from offerflow_provisioning.errors import PermanentCopyError
from offerflow_provisioning.rules import ReplicaKey
from offerflow_shared.regionmap import RegionEndpoint, client_for

_TRANSIENT_CODES = frozenset({"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "Throttling",
                              "RequestTimeTooSkewed", "NoSuchUpload"})  # NoSuchUpload: aborted by a concurrent copy
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
Readback = Literal["auto", "always", "never"]


class ChecksumMismatch(ConnectionError):
    """The storage stored something other than what we sent: refused (and deleted); a fresh copy may succeed."""


class S3RegionStore:
    def __init__(self, endpoint: RegionEndpoint, *, timeout: float = 30.0, readback: Readback = "auto",
                 client: Any = None) -> None:
        self.name = endpoint.name
        self.shown = endpoint.shown
        self.endpoint = endpoint
        self.bucket = endpoint.bucket
        self.readback = readback
        self.client = client or client_for(endpoint, timeout)  # thread-safe: one serves every copy

    def __repr__(self) -> str:  # never the keys
        return f"S3RegionStore({self.name!r}, {self.endpoint.shown!r})"

    @staticmethod
    def manifest_key(key: ReplicaKey) -> str:
        return "/".join(key.parts()[1:]) + ".json"

    def location(self, content: Content) -> str:
        return f"{self.endpoint.shown}/{content.key}"

    def has_content(self, content: Content) -> bool:
        with self._translated():
            try:
                head = self.client.head_object(Bucket=self.bucket, Key=content.key)
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    return False
                raise
        return bool(head.get("ContentLength") == content.size
                    and head.get("Metadata", {}).get("sha256") == content.sha256)

    def begin(self, content: Content) -> S3ContentUpload:
        with self._translated():
            # Parts of an interrupted upload are unverified leftovers: abort them, so none pile up.
            self.abort_leftovers(content.key)
            upload_id = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=content.key, ChecksumAlgorithm="SHA256",
                Metadata={"sha256": content.sha256})["UploadId"]
        return S3ContentUpload(self, content, upload_id)

    def abort_leftovers(self, key: str) -> int:
        aborted = 0
        listing = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=key)
        for upload in listing.get("Uploads", []):
            if upload["Key"] == key:
                with suppress(ClientError):  # already gone: fine
                    self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload["UploadId"])
                    aborted += 1
        return aborted

    def link(self, key: ReplicaKey, content: Content) -> None:
        body = {"sha256": content.sha256, "size_bytes": content.size, "content": content.key,
                "publisher": key.publisher, "offer": key.offer, "plan_id": key.plan_id,
                "image_version": key.image_version, "disk": key.disk}
        with self._translated():
            self.client.put_object(Bucket=self.bucket, Key=self.manifest_key(key),
                                   Body=json.dumps(body, sort_keys=True).encode(), ContentType="application/json")

    def linked(self, key: ReplicaKey) -> str | None:
        with self._translated():
            try:
                raw = self.client.get_object(Bucket=self.bucket, Key=self.manifest_key(key))["Body"].read()
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    return None
                raise
        try:
            sha = json.loads(raw)["sha256"]
        except (ValueError, KeyError, TypeError):
            return None
        return sha if isinstance(sha, str) and len(sha) == 64 else None

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Maps botocore errors onto the replicator's vocabulary: transient OSError or PermanentCopyError."""
        where = f"bucket {self.bucket}"
        try:
            yield
        except (BotoConnectionError, ConnectTimeoutError, ReadTimeoutError) as exc:
            raise ConnectionError(f"{where}: object storage unreachable ({type(exc).__name__})") from exc
        except ClientError as exc:
            code = _code(exc)
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            if code in _TRANSIENT_CODES or status >= 500:
                raise ConnectionError(f"{where}: object storage answered {code or status}") from exc
            raise PermanentCopyError(f"{where}: object storage refused the copy ({code or status})") from exc
        except BotoCoreError as exc:
            raise ConnectionError(f"{where}: {type(exc).__name__}") from exc


class S3ContentUpload:
    def __init__(self, store: S3RegionStore, content: Content, upload_id: str) -> None:
        self._store, self._content, self._upload_id = store, content, upload_id
        self._client, self._bucket = store.client, store.bucket
        self._parts: list[dict[str, Any]] = []

    def put_part(self, number: int, data: bytes) -> None:
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        with self._store._translated():
            answer = self._client.upload_part(Bucket=self._bucket, Key=self._content.key, UploadId=self._upload_id,
                                              PartNumber=number, Body=data, ChecksumSHA256=checksum)
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": checksum})

    def _composite(self) -> str:
        digests = b"".join(base64.b64decode(p["ChecksumSHA256"]) for p in self._parts)
        return base64.b64encode(hashlib.sha256(digests).digest()).decode()

    def complete(self) -> None:
        key = self._content.key
        with self._store._translated():
            done = self._client.complete_multipart_upload(Bucket=self._bucket, Key=key, UploadId=self._upload_id,
                                                          MultipartUpload={"Parts": self._parts})
            theirs = str(done.get("ChecksumSHA256") or "").split("-")[0]
            if theirs and theirs != self._composite():
                self._refuse(f"answered checksum {theirs} for what we sent as {self._composite()}")
            if self._store.readback == "always" or (self._store.readback == "auto" and not theirs):
                self._read_back()

    def _read_back(self) -> None:
        """Hash the stored object as the storage serves it: a server that ignores checksums is caught too."""
        body = self._client.get_object(Bucket=self._bucket, Key=self._content.key)["Body"]
        digest = hashlib.sha256()
        while chunk := body.read(8 * 1024 * 1024):
            digest.update(chunk)
        if digest.hexdigest() != self._content.sha256:
            self._refuse("serves bytes whose SHA-256 is not the disk's")

    def _refuse(self, why: str) -> None:
        # The object is wrong: remove it so that its presence never counts as a verified replica.
        self._client.delete_object(Bucket=self._bucket, Key=self._content.key)
        raise ChecksumMismatch(f"bucket {self._bucket}: the stored object was refused: the storage {why}")

    def abort(self) -> None:
        with suppress(ClientError, BotoCoreError):  # the next begin() aborts what is left
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=self._content.key,
                                                UploadId=self._upload_id)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
