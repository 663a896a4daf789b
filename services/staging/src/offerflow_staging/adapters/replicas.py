"""Downloads the replica to boot from its region's object store (boto3, as provisioning wrote it) into the work dir.

The replica's location is ``<endpoint>/<bucket>/<key>`` as provisioning shows it; it must lie under the endpoint and
bucket the region map names for its region, so an event can never point the worker at another store. The download
is bounded by a maximum size and hashed on the way; a SHA-256 other than the certified one refuses the replica (it
is not what was certified). The file is deleted when the caller is done with it, also when the boot is cancelled.

Connection failures and 5xx answers are retried here a few times, then raised as ``Transient`` (the runtime retries
the input); anything else (no such object, access denied, a mismatch) is a :class:`ReplicaProblem` that fails the
step. Keys and secrets never appear in messages.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from offerflow_contract.events import Replica
from offerflow_shared.errors import Transient
from offerflow_shared.regionmap import RegionEndpoint, RegionMap, client_for

CHUNK = 8 * 1024 * 1024
_TRANSIENT_CODES = frozenset({"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "Throttling",
                              "RequestTimeTooSkewed"})


class ReplicaProblem(Exception):
    """The replica cannot be booted as certified: the step fails with ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Stopped(Exception):
    """The caller went away (the boot was cancelled) while the download ran in its thread."""


class ReplicaSource(Protocol):
    def fetch(self, replica: Replica) -> AbstractAsyncContextManager[Path]:
        """The replica's bytes as a local file, verified against ``replica.sha256``; deleted on exit."""
        ...


def object_key(endpoint: RegionEndpoint, replica: Replica) -> str:
    """The key of the replica's bytes in its region's bucket; refuses a location outside that endpoint and bucket."""
    prefix = f"{endpoint.shown}/"
    key = replica.location[len(prefix):] if replica.location.startswith(prefix) else ""
    if not key or ".." in key.split("/") or key.startswith("/"):
        raise ReplicaProblem("replica-location", (
            f"The replica of plan {replica.plan_id} version {replica.image_version} in {replica.region} is not "
            f"stored under the region's object store {endpoint.shown}, so it is not read."))
    return key


class S3Replicas:
    def __init__(self, regions: RegionMap, directory: Path, *, max_bytes: int, timeout: float = 60.0,
                 attempts: int = 3, retry_delay: float = 2.0,
                 client_factory: Callable[[RegionEndpoint, float], Any] = client_for) -> None:
        self._regions = {r.name: r for r in regions.regions}
        self._dir = directory
        self._max = max_bytes
        self._timeout = timeout
        self._attempts = attempts
        self._delay = retry_delay
        self._factory = client_factory
        self._clients: dict[str, Any] = {}

    def __repr__(self) -> str:  # never the keys
        return f"S3Replicas({sorted(self._regions)!r}, {str(self._dir)!r})"

    @asynccontextmanager
    async def fetch(self, replica: Replica) -> AsyncIterator[Path]:
        endpoint = self._regions.get(replica.region)
        if endpoint is None:
            raise ReplicaProblem("no-replica", f"Region {replica.region} is not in this service's region map.")
        key = object_key(endpoint, replica)
        self._dir.mkdir(parents=True, exist_ok=True)
        path = self._dir / f"{uuid.uuid4().hex}.vhd"
        stop = threading.Event()
        try:
            await asyncio.to_thread(self._download, endpoint, key, replica, path, stop)
            yield path
        finally:
            # A cancelled download goes on in its thread until its next chunk: it sees ``stop`` and ends there.
            stop.set()
            path.unlink(missing_ok=True)

    def _client(self, endpoint: RegionEndpoint) -> Any:
        if endpoint.name not in self._clients:
            self._clients[endpoint.name] = self._factory(endpoint, self._timeout)
        return self._clients[endpoint.name]

    def _download(self, endpoint: RegionEndpoint, key: str, replica: Replica, path: Path,
                  stop: threading.Event) -> None:
        for attempt in range(self._attempts):
            try:
                return self._once(endpoint, key, replica, path, stop)
            except _Stopped:
                return None
            except Transient:
                if attempt == self._attempts - 1 or stop.wait(self._delay * (2**attempt)):
                    raise
        return None

    def _once(self, endpoint: RegionEndpoint, key: str, replica: Replica, path: Path, stop: threading.Event) -> None:
        where = f"the replica of plan {replica.plan_id} version {replica.image_version} in {replica.region}"
        try:
            answer = self._client(endpoint).get_object(Bucket=endpoint.bucket, Key=key)
            length = int(answer.get("ContentLength") or 0)
            if length > self._max:
                raise ReplicaProblem("replica-too-large", f"{where} is {length} bytes, over the limit of {self._max}.")
            digest, size, body = hashlib.sha256(), 0, answer["Body"]
            with path.open("wb") as fh:
                while chunk := body.read(CHUNK):
                    if stop.is_set():
                        raise _Stopped
                    size += len(chunk)
                    if size > self._max:
                        raise ReplicaProblem("replica-too-large", f"{where} is over the limit of {self._max} bytes.")
                    digest.update(chunk)
                    fh.write(chunk)
        except ClientError as exc:
            path.unlink(missing_ok=True)
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            if code in _TRANSIENT_CODES or status >= 500:
                raise Transient(f"{where}: object storage answered {code or status}") from exc
            if code in ("NoSuchKey", "404", "NotFound"):
                raise ReplicaProblem("replica-missing", f"{where} is no longer in {endpoint.shown}.") from None
            raise ReplicaProblem("replica-unreadable", f"{where} cannot be read ({code or status}).") from None
        except (BotoCoreError, ConnectionError, TimeoutError) as exc:
            path.unlink(missing_ok=True)
            raise Transient(f"{where}: object storage unreachable ({type(exc).__name__})") from exc
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        if digest.hexdigest() != replica.sha256:
            path.unlink(missing_ok=True)
            raise ReplicaProblem("replica-mismatch", (
                f"{where} has SHA-256 {digest.hexdigest()}, not the certified {replica.sha256}: it is not the image "
                "that was certified, so it is not booted. Publish again to replicate it afresh."))
