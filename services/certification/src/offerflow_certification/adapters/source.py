"""Where disk images are read from. ``file://`` now; a blob-store adapter plugs in behind the same port."""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import unquote, urlparse

from offerflow_certification.image.findings import Finding, ImageError
from offerflow_certification.image.vhd import check_vhd


@dataclass(frozen=True)
class Inspection:
    sha256: str
    size_bytes: int
    findings: list[Finding]


class DiskSource(Protocol):
    async def inspect(self, url: str) -> Inspection: ...


def local_path(url: str) -> Path:
    parsed = urlparse(url)
    if parsed.scheme != "file":
        raise ImageError(f"unsupported image URL scheme {parsed.scheme or '(none)'!r}; use file://")
    return Path(unquote(parsed.path))


def _hash_stream(f: BinaryIO, chunk: int) -> str:
    h = hashlib.sha256()
    while block := f.read(chunk):
        h.update(block)
    return h.hexdigest()


class FileDiskSource:
    """Streams the file once for its SHA-256; the format checks read only the footer and first sectors."""

    def __init__(self, *, max_bytes: int, chunk_bytes: int) -> None:
        self.max_bytes, self.chunk_bytes = max_bytes, chunk_bytes

    async def inspect(self, url: str) -> Inspection:
        return await asyncio.to_thread(self._inspect, url)

    def _inspect(self, url: str) -> Inspection:
        path = local_path(url)
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size > self.max_bytes:
                    raise ImageError(f"the image is {size} bytes, over the limit of {self.max_bytes}")
                findings = check_vhd(f, size)
                f.seek(0)
                digest = _hash_stream(f, self.chunk_bytes)
        except OSError as exc:
            raise ImageError(f"cannot read {url}: {exc.strerror or exc}") from exc
        return Inspection(digest, size, findings)


class FakeDiskSource:
    def __init__(self, results: dict[str, Inspection | ImageError]) -> None:
        self.results = results
        self.calls: list[str] = []

    async def inspect(self, url: str) -> Inspection:
        self.calls.append(url)
        result = self.results[url]
        if isinstance(result, ImageError):
            raise result
        return result
