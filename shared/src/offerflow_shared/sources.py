"""Reading a publisher's disk image by its URL: one blocking source for every stage that reads disks.

``UrlDiskSource.open(url)`` returns a file-like stream (``BinaryIO``, also a context manager) of the disk's bytes,
read on demand in chunks, so memory stays at one chunk whatever the size. Callers run it in a worker thread.

- ``https://``: httpx with TLS verified against the public trust store plus ``OFFERFLOW_TRUSTED_CA_FILE`` when set
  (the dev stack's own CA). Redirects are followed here, a few at most, and every hop passes the shared SSRF rule
  (``netguard``): loopback and private targets only when the deployment allows private targets (dev stack).
- ``http://``: only where private targets are allowed (the embedded dev stack); production reads over TLS.
- ``file://``: local paths, only where the deployment allows it.

Every stream is bounded by ``max_bytes`` (the declared length is checked first, the bytes actually read too).
Failures are typed (``SourceUnreadable``, ``UnsupportedSource``, ``SourceTooLarge``, ``SourceNotAllowed``) and their
messages never contain the URL's query string: presigned URLs and SAS tokens carry their signature there.
"""

from __future__ import annotations

import io
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO, Protocol, cast
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import certifi
import httpx

from offerflow_shared import netguard

DEFAULT_CHUNK_BYTES = 1024 * 1024
MAX_REDIRECTS = 5
# Answers that may change on their own: retrying later can succeed.
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


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
    def open(self, url: str) -> BinaryIO:
        """A stream of the disk's bytes (close it, or use it in ``with``); raises a ``SourceError``."""
        ...


def redact(url: str) -> str:
    """The URL without its query and fragment: signatures live there and must never reach a message or a log."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    return parts._replace(query="", fragment="").geturl()


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
            except httpx.HTTPError as exc:
                raise SourceUnreadable(f"reading {self._shown} failed: {type(exc).__name__}",
                                       transient=True) from exc
            except OSError as exc:
                raise SourceUnreadable(f"reading {self._shown} failed: {exc.strerror or exc}") from exc
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
    """The real source: ``https://`` always, ``http://`` and ``file://`` where the deployment allows them."""

    def __init__(self, *, max_bytes: int, chunk_bytes: int = DEFAULT_CHUNK_BYTES, allow_file: bool = False,
                 allow_private: bool = False, ca_file: Path | None = None, connect_timeout: float = 10.0,
                 read_timeout: float = 60.0, transport: httpx.BaseTransport | None = None) -> None:
        self.max_bytes, self.chunk_bytes = max_bytes, chunk_bytes
        self.allow_file, self.allow_private = allow_file, allow_private
        self.counter = Counter()
        # One client (one connection pool) for every open: httpx.Client is safe to share between threads.
        self._client = httpx.Client(
            verify=tls_context(ca_file), transport=transport, follow_redirects=False,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            headers={"User-Agent": "offerflow-disk-source"})

    @property
    def schemes(self) -> tuple[str, ...]:
        return ("https",) + (("http",) if self.allow_private else ()) + (("file",) if self.allow_file else ())

    def open(self, url: str) -> BinaryIO:
        shown = redact(url)
        scheme = urlsplit(url).scheme.lower() if shown != "<unparseable URL>" else ""
        if scheme not in ("https", "http", "file"):
            raise UnsupportedSource(f"{shown}: {scheme + '://' if scheme else 'a URL without a scheme'} is not "
                                    "supported for disk URLs (use https://)")
        if scheme not in self.schemes:
            raise SourceNotAllowed(f"{shown}: {scheme}:// disk URLs are not allowed here (use https://)")
        raw = self._open_file(url, shown) if scheme == "file" else self._open_http(url, shown)
        self.counter.opened()
        return cast(BinaryIO, io.BufferedReader(raw, buffer_size=self.chunk_bytes))

    def close(self) -> None:
        self._client.close()

    def _open_file(self, url: str, shown: str) -> _Bounded:
        path = local_path(url)
        if path is None:
            raise UnsupportedSource(f"{shown} names a remote host; only local file:// URLs are supported")
        try:
            f = path.open("rb", buffering=0)
        except OSError as exc:
            raise SourceUnreadable(f"the disk at {shown} cannot be read: {exc.strerror or exc}") from exc
        try:
            size = path.stat().st_size
            if size > self.max_bytes:
                raise SourceTooLarge(f"the disk at {shown} is {size} bytes, over the limit of {self.max_bytes}")
        except BaseException:
            f.close()
            raise
        chunks = iter(lambda: f.read(self.chunk_bytes), b"")
        return _Bounded(chunks, limit=self.max_bytes, shown=shown, counter=self.counter, on_close=f.close)

    def _open_http(self, url: str, shown: str) -> _Bounded:
        target = url
        web = ("https", "http") if self.allow_private else ("https",)
        for _ in range(MAX_REDIRECTS + 1):
            try:
                netguard.check_url_blocking(target, allow_private=self.allow_private, schemes=web)
            except netguard.BlockedTarget as exc:
                raise SourceNotAllowed(f"the disk URL is not allowed: {exc.reason}") from exc
            try:
                response = self._client.send(self._client.build_request("GET", target), stream=True)
            except httpx.HTTPError as exc:
                raise SourceUnreadable(f"{shown} cannot be downloaded: {type(exc).__name__}",
                                       transient=True) from exc
            if response.is_redirect and "location" in response.headers:
                response.close()
                target = str(response.url.join(response.headers["location"]))
                continue
            try:
                self._check_answer(response, shown)
            except BaseException:
                response.close()
                raise
            return _Bounded(response.iter_bytes(self.chunk_bytes), limit=self.max_bytes, shown=shown,
                            counter=self.counter, on_close=response.close)
        raise SourceUnreadable(f"{shown} redirects more than {MAX_REDIRECTS} times")

    def _check_answer(self, response: httpx.Response, shown: str) -> None:
        status = response.status_code
        if status != 200:
            hint = " (an expired or wrong signature?)" if status in (401, 403) else ""
            raise SourceUnreadable(f"{shown} answered HTTP {status}{hint}", transient=status in TRANSIENT_STATUS)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise SourceTooLarge(f"the disk at {shown} is {declared} bytes, over the limit of {self.max_bytes}")


class MemoryDiskSource:
    """The fake: disks by URL, bounded like the real source, counting opens and bytes read."""

    def __init__(self, disks: Mapping[str, bytes] | None = None, *, max_bytes: int = 1 << 40,
                 chunk_bytes: int = 64 * 1024) -> None:
        self.disks: dict[str, bytes] = dict(disks or {})
        self.max_bytes, self.chunk_bytes = max_bytes, chunk_bytes
        self.counter = Counter()
        self.opened: list[str] = []

    def open(self, url: str) -> BinaryIO:
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
