"""Reading a publisher's disk image by its URL: one blocking source for every stage that reads disks.

``UrlDiskSource.open(url)`` returns a file-like stream (``BinaryIO``, also a context manager) of the disk's bytes,
read on demand in chunks, so memory stays at one chunk whatever the size. Callers run it in a worker thread.

- ``https://``: an ``egress`` client (every connection checked by the ``EgressPolicy`` and pinned to the checked
  address) with TLS verified against the public trust store plus ``OFFERFLOW_TRUSTED_CA_FILE`` when set (the dev
  stack's own CA). Redirects are followed by hand, a few at most, every hop checked again.
- ``http://``: only to an endpoint the policy names (a dev object store); production reads over TLS.
- ``file://``: only under the policy's file root, in the publisher's own folder (development).

Every stream is bounded by ``max_bytes`` (the declared length is checked first, the bytes actually read too).
Failures are typed (``SourceUnreadable``, ``UnsupportedSource``, ``SourceTooLarge``, ``SourceNotAllowed``); their
messages say "the URL is not allowed" or "could not be fetched" (never which network error happened) and never
contain the URL's query string: presigned URLs and SAS tokens carry their signature there.
"""

from __future__ import annotations

import io
import os
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO, Protocol, cast
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import certifi
import httpx

from offerflow_shared import egress
from offerflow_shared.egress_policy import NOT_ALLOWED, NOT_FETCHED, EgressError, EgressPolicy
from offerflow_shared.urls import redact as redact  # re-exported: callers name it from here

DEFAULT_CHUNK_BYTES = 1024 * 1024


class SourceError(Exception):
    """The disk cannot be read. ``transient`` says whether trying again later may succeed."""

    code = "disk-unreadable"

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.message, self.transient = message, transient


class SourceUnreadable(SourceError):
    code = "disk-unreadable"


class UnsupportedSource(SourceError):
    code = "unsupported-url-scheme"


class SourceTooLarge(SourceError):
    code = "disk-too-large"


class SourceNotAllowed(SourceError):
    code = "disk-url-not-allowed"


class DiskSource(Protocol):
    def open(self, url: str, publisher: str | None = None) -> BinaryIO:
        """A stream of the disk's bytes (close it, or use it in ``with``); raises a ``SourceError``.

        ``publisher`` (the envelope's publisher id) decides which folder a ``file://`` URL may name."""
        ...

    def local_file(self, url: str, publisher: str | None = None) -> Path | None:
        """The checked local path of a ``file://`` URL (tested in place), None for a remote URL."""
        ...


def local_path(url: str) -> Path | None:
    """The path of a local ``file://`` URL, or None for any other URL (remote hosts are not local)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
        return None
    return Path(url2pathname(unquote(parts.path)))


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Public CAs (certifi, as httpx uses by default) plus the deployment's own CA file when one is named."""
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


class Counter:
    """Opens and bytes read, across threads: how tests and benchmarks see that a disk was read once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.opens = 0
        self.bytes_read = 0

    def opened(self) -> None:
        with self._lock:
            self.opens += 1

    def read(self, n: int) -> None:
        with self._lock:
            self.bytes_read += n


class _Bounded(io.RawIOBase):
    """A raw stream over chunks that refuses to go past ``limit`` bytes and maps read errors to SourceError."""

    def __init__(self, chunks: Iterator[bytes], *, limit: int, shown: str, counter: Counter,
                 on_close: Callable[[], None] = lambda: None) -> None:
        super().__init__()
        self._chunks, self._limit, self._shown, self._counter = chunks, limit, shown, counter
        self._on_close = on_close
        self._pending = memoryview(b"")
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                return 0
            except (httpx.HTTPError, EgressError) as exc:
                raise SourceUnreadable(f"{self._shown} {NOT_FETCHED}", transient=True) from exc
            except OSError as exc:
                raise SourceUnreadable(f"{self._shown} {NOT_FETCHED}") from exc
            self._pending = memoryview(chunk)
        n = min(len(buffer), len(self._pending))
        if self.total + n > self._limit:
            raise SourceTooLarge(f"the disk at {self._shown} is over the limit of {self._limit} bytes")
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self.total += n
        self._counter.read(n)
        return n

    def close(self) -> None:
        if not self.closed:
            try:
                self._on_close()
            finally:
                super().close()


class UrlDiskSource:
    """The real source: ``https://`` always, plain ``http://`` to a named endpoint, ``file://`` under the
    policy's file root (``<root>/<publisher>/``), or anywhere on this machine with ``local_files`` (the CLI and
    benchmarks, run by the publisher on their own machine; never a service)."""

    def __init__(self, *, max_bytes: int, policy: EgressPolicy | None = None,
                 chunk_bytes: int = DEFAULT_CHUNK_BYTES, local_files: bool = False, ca_file: Path | None = None,
                 connect_timeout: float = 10.0, read_timeout: float = 60.0) -> None:
        self.max_bytes, self.chunk_bytes = max_bytes, chunk_bytes
        self.policy, self.local_files = policy or EgressPolicy(), local_files
        self.counter = Counter()
        # One client (one connection pool) for every open: httpx.Client is safe to share between threads.
        self._client = egress.client(
            self.policy, verify=tls_context(ca_file), timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            headers={"User-Agent": "offerflow-disk-source"})

    def local_file(self, url: str, publisher: str | None = None) -> Path | None:
        """The checked path of a ``file://`` URL (SourceNotAllowed outside what is allowed); None otherwise."""
        shown = redact(url)
        try:
            if urlsplit(url).scheme.lower() != "file":
                return None
        except ValueError:
            return None
        if self.local_files:
            path = local_path(url)
            if path is None:
                raise SourceNotAllowed(f"{shown}: {NOT_ALLOWED}")
            return path
        try:
            return self.policy.file_path(url, publisher)
        except EgressError as exc:
            raise SourceNotAllowed(f"{shown}: {NOT_ALLOWED}") from exc

    def open(self, url: str, publisher: str | None = None) -> BinaryIO:
        shown = redact(url)
        scheme = urlsplit(url).scheme.lower() if shown != "<unparseable URL>" else ""
        if scheme not in ("https", "http", "file"):
            raise UnsupportedSource(f"{shown}: {NOT_ALLOWED} (disk URLs are https://)")
        if scheme == "file":
            path = self.local_file(url, publisher)
            assert path is not None
            raw = self._open_file(path, shown)
        else:
            raw = self._open_http(url, shown)
        self.counter.opened()
        return cast(BinaryIO, io.BufferedReader(raw, buffer_size=self.chunk_bytes))

    def close(self) -> None:
        self._client.close()

    def _open_file(self, path: Path, shown: str) -> _Bounded:
        try:
            f = path.open("rb", buffering=0)
        except OSError as exc:
            raise SourceUnreadable(f"{shown} {NOT_FETCHED}") from exc
        try:
            size = os.fstat(f.fileno()).st_size
            if size > self.max_bytes:
                raise SourceTooLarge(f"the disk at {shown} is {size} bytes, over the limit of {self.max_bytes}")
        except BaseException:
            f.close()
            raise
        chunks = iter(lambda: f.read(self.chunk_bytes), b"")
        return _Bounded(chunks, limit=self.max_bytes, shown=shown, counter=self.counter, on_close=f.close)

    def _open_http(self, url: str, shown: str) -> _Bounded:
        try:
            response = egress.stream_blocking(self._client, self.policy, url, schemes=("https",))
        except EgressError as exc:
            if exc.refused:
                raise SourceNotAllowed(f"{shown}: {NOT_ALLOWED}") from exc
            raise SourceUnreadable(f"{shown} {exc.message}", transient=exc.transient) from exc
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response.close()
            raise SourceTooLarge(f"the disk at {shown} is {declared} bytes, over the limit of {self.max_bytes}")
        return _Bounded(response.iter_bytes(self.chunk_bytes), limit=self.max_bytes, shown=shown,
                        counter=self.counter, on_close=response.close)


class MemoryDiskSource:
    """The fake: disks by URL, bounded like the real source, counting opens and bytes read."""

    def __init__(self, disks: Mapping[str, bytes] | None = None, *, max_bytes: int = 1 << 40,
                 chunk_bytes: int = 64 * 1024) -> None:
        self.disks: dict[str, bytes] = dict(disks or {})
        self.max_bytes, self.chunk_bytes = max_bytes, chunk_bytes
        self.counter = Counter()
        self.opened: list[str] = []

    def local_file(self, url: str, publisher: str | None = None) -> Path | None:
        return None  # every disk is read as a stream, like a remote one

    def open(self, url: str, publisher: str | None = None) -> BinaryIO:
        shown = redact(url)
        if url not in self.disks:
            raise SourceUnreadable(f"the disk at {shown} can no longer be read")
        data = self.disks[url]
        if len(data) > self.max_bytes:
            raise SourceTooLarge(f"the disk at {shown} is {len(data)} bytes, over the limit of {self.max_bytes}")
        self.opened.append(url)
        self.counter.opened()
        view = memoryview(data)
        chunks = (bytes(view[i:i + self.chunk_bytes]) for i in range(0, len(data), self.chunk_bytes))
        raw = _Bounded(chunks, limit=self.max_bytes, shown=shown, counter=self.counter)
        return cast(BinaryIO, io.BufferedReader(raw, buffer_size=self.chunk_bytes))
