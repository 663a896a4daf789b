"""Where disk images come from: the shared disk source (``offerflow_shared.sources``), hashed while read once.

The OS tests need random access, which a download stream does not give. A local ``file://`` image is tested in
place; any other (``https://``, presigned or SAS) is spooled to a file in ``spool_dir`` while it is hashed, and the
file is removed as soon as the image is certified. Reading, hashing and spooling run in one worker thread, in
chunks, so memory stays at one chunk whatever the size.
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

from offerflow_certification.image.certifier import sha256_stream
from offerflow_certification.image.findings import ImageError
from offerflow_shared import sources
from offerflow_shared.egress_policy import NOT_FETCHED


@dataclass(frozen=True)
class LocalImage:
    path: Path
    size: int
    sha256: str


class DiskSource(Protocol):
    def fetch(self, url: str, publisher: str | None = None) -> AbstractAsyncContextManager[LocalImage]:
        """The image as a local file; ``publisher`` (the envelope's) decides which folder ``file://`` may name."""
        ...


def hash_file(path: Path, *, max_bytes: int, chunk_bytes: int) -> LocalImage:
    """A local image by path (the CLI, benchmarks and tests: the caller's own machine), read and hashed once."""
    intake = ImageIntake(sources.UrlDiskSource(max_bytes=max_bytes, chunk_bytes=chunk_bytes, local_files=True),
                         chunk_bytes=chunk_bytes)
    return intake.hash_local(path.resolve().as_uri())


@dataclass(frozen=True)
class ImageIntake:
    """Certification's view of a disk source: every image as a local file with its size and SHA-256."""

    source: sources.DiskSource
    chunk_bytes: int = 4 * 1024 * 1024
    spool_dir: Path | None = None

    @asynccontextmanager
    async def fetch(self, url: str, publisher: str | None = None) -> AsyncIterator[LocalImage]:
        try:
            local = self.source.local_file(url, publisher)
        except sources.SourceError as exc:
            raise ImageError(exc.message) from exc
        if local is not None:
            yield await asyncio.to_thread(self.hash_local, url, publisher)
            return
        fd, name = tempfile.mkstemp(prefix="offerflow-image-", suffix=".vhd", dir=self.spool_dir)
        path = Path(name)
        try:
            size, digest = await asyncio.to_thread(self._spool, url, fd, publisher)
            yield LocalImage(path, size, digest)
        finally:
            await asyncio.to_thread(path.unlink, True)

    def hash_local(self, url: str, publisher: str | None = None) -> LocalImage:
        try:
            # The checked path (symlinks and .. resolved), which the tests then read in place.
            path = self.source.local_file(url, publisher)
            if path is None:
                raise ImageError(f"{sources.redact(url)} is not a local file:// URL")
            with self.source.open(url, publisher) as stream:
                digest, read = sha256_stream(stream, self.chunk_bytes, 1 << 62)
            size = path.stat().st_size
        except sources.SourceError as exc:
            raise ImageError(exc.message) from exc
        except OSError as exc:
            raise ImageError(f"{sources.redact(url)} {NOT_FETCHED}") from exc
        if read != size:
            raise ImageError(f"the image changed while it was read ({read} of {size} bytes)")
        return LocalImage(path, size, digest)

    def _spool(self, url: str, fd: int, publisher: str | None = None) -> tuple[int, str]:
        h, total = hashlib.sha256(), 0
        buffer = memoryview(bytearray(self.chunk_bytes))
        try:
            with os.fdopen(fd, "wb") as spool, self.source.open(url, publisher) as stream:
                while n := stream.readinto(buffer):  # type: ignore[attr-defined]
                    h.update(buffer[:n])
                    spool.write(buffer[:n])
                    total += n
        except sources.SourceError as exc:
            raise ImageError(exc.message) from exc
        except OSError as exc:
            raise ImageError(f"cannot spool the image: {exc.strerror or exc}") from exc
        return total, h.hexdigest()
