"""Where disk images are read from: ``file://`` directly, ``http(s)://`` streamed to a spool file.

Both hash the image while reading it once, in chunks, so memory stays at one chunk whatever the size.
The OS tests need random access, which a download stream does not give; the spool file is on disk, in
``spool_dir``, and is removed as soon as the image is certified.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

import httpx

from offerflow_certification.image.certifier import sha256_stream
from offerflow_certification.image.findings import ImageError
from offerflow_shared import netguard

MAX_REDIRECTS = 5


@dataclass(frozen=True)
class LocalImage:
    path: Path
    size: int
    sha256: str


class DiskSource(Protocol):
    def fetch(self, url: str) -> AbstractAsyncContextManager[LocalImage]: ...


def local_path(url: str) -> Path:
    parsed = urlparse(url)
    if parsed.scheme != "file":
        raise ImageError(f"unsupported image URL scheme {parsed.scheme or '(none)'!r}; use file:// or https://")
    return Path(unquote(parsed.path))


class FileDiskSource:
    def __init__(self, *, max_bytes: int, chunk_bytes: int) -> None:
        self.max_bytes, self.chunk_bytes = max_bytes, chunk_bytes

    @asynccontextmanager
    async def fetch(self, url: str) -> AsyncIterator[LocalImage]:
        yield await asyncio.to_thread(self._hash, local_path(url))

    def hash_path(self, path: Path) -> LocalImage:
        return self._hash(path)

    def _hash(self, path: Path) -> LocalImage:
        try:
            with open(path, "rb", buffering=0) as f:
                size = os.fstat(f.fileno()).st_size
                if size > self.max_bytes:
                    raise ImageError(f"the image is {size} bytes, over the limit of {self.max_bytes}")
                digest, read = sha256_stream(f, self.chunk_bytes, self.max_bytes)
        except OSError as exc:
            raise ImageError(f"cannot read {path}: {exc.strerror or exc}") from exc
        if read != size:
            raise ImageError(f"the image changed while it was read ({read} of {size} bytes)")
        return LocalImage(path, size, digest)


class HttpDiskSource:
    def __init__(self, *, max_bytes: int, chunk_bytes: int, spool_dir: Path | None = None,
                 connect_timeout: float = 10.0, read_timeout: float = 60.0, allow_private: bool = True) -> None:
        self.max_bytes, self.chunk_bytes, self.spool_dir = max_bytes, chunk_bytes, spool_dir
        self.allow_private = allow_private  # off in production: see offerflow_shared.netguard
        self.timeout = httpx.Timeout(read_timeout, connect=connect_timeout)

    @asynccontextmanager
    async def fetch(self, url: str) -> AsyncIterator[LocalImage]:
        fd, name = tempfile.mkstemp(prefix="offerflow-image-", suffix=".vhd", dir=self.spool_dir)
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as spool:
                size, digest = await self._download(url, spool)
            yield LocalImage(path, size, digest)
        finally:
            await asyncio.to_thread(path.unlink, True)

    async def _download(self, url: str, spool: object) -> tuple[int, str]:
        # Redirects are followed here, not by httpx, so every hop passes the SSRF rule.
        target = url
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
                for _ in range(MAX_REDIRECTS + 1):
                    try:
                        await netguard.check_url(target, allow_private=self.allow_private)
                    except netguard.BlockedTarget as exc:
                        raise ImageError(f"the image URL is not allowed: {exc.reason}") from exc
                    async with client.stream("GET", target) as response:
                        if response.is_redirect and "location" in response.headers:
                            target = str(response.url.join(response.headers["location"]))
                            continue
                        return await self._copy(response, spool)
        except httpx.HTTPError as exc:
            raise ImageError(f"cannot download the image: {type(exc).__name__}: {exc}") from exc
        raise ImageError(f"the image URL redirects more than {MAX_REDIRECTS} times")

    async def _copy(self, response: httpx.Response, spool: object) -> tuple[int, str]:
        h, total = hashlib.sha256(), 0
        write = spool.write  # type: ignore[attr-defined]
        if response.status_code != 200:
            raise ImageError(f"the blob store answered HTTP {response.status_code} for the image")
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise ImageError(f"the image is {declared} bytes, over the limit of {self.max_bytes}")
        async for chunk in response.aiter_bytes(self.chunk_bytes):
            total += len(chunk)
            if total > self.max_bytes:
                raise ImageError(f"the image is over the limit of {self.max_bytes} bytes")
            h.update(chunk)
            await asyncio.to_thread(write, chunk)
        return total, h.hexdigest()


class RoutingDiskSource:
    """Picks the adapter by URL scheme."""

    def __init__(self, file: DiskSource, http: DiskSource) -> None:
        self.file, self.http = file, http

    def fetch(self, url: str) -> AbstractAsyncContextManager[LocalImage]:
        scheme = urlparse(url).scheme.lower()
        return self.http.fetch(url) if scheme in ("http", "https") else self.file.fetch(url)
