"""Reading a certified disk by its URL. Calls block; the replicator runs them in a worker thread."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from offerflow_provisioning.errors import SourceUnreadable, UnsupportedSource


class DiskSource(Protocol):
    def open(self, url: str) -> BinaryIO:
        """A stream of the disk's bytes; raises UnsupportedSource or SourceUnreadable for good."""
        ...


class FileDiskSource:
    """``file://`` URLs on this machine (local folders or mounted shares)."""

    def open(self, url: str) -> BinaryIO:
        parts = urlsplit(url)
        if parts.scheme != "file":
            raise UnsupportedSource(f"{_redact(url)} is not a file:// URL")
        if parts.netloc not in ("", "localhost"):
            raise UnsupportedSource(
                f"{_redact(url)} names a remote host; only local file:// URLs are supported"
            )
        path = Path(url2pathname(unquote(parts.path)))
        try:
            return path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise SourceUnreadable(
                f"the disk at {_redact(url)} can no longer be read: {exc.strerror}"
            ) from exc
        except PermissionError as exc:
            raise SourceUnreadable(f"the disk at {_redact(url)} cannot be read: permission denied") from exc


class SchemeRouter:
    """Picks the source by URL scheme, so http(s) or blob sources can be added without touching callers."""

    def __init__(self, by_scheme: Mapping[str, DiskSource]) -> None:
        self._by_scheme = dict(by_scheme)

    def open(self, url: str) -> BinaryIO:
        scheme = urlsplit(url).scheme.lower()
        source = self._by_scheme.get(scheme)
        if source is None:
            supported = ", ".join(f"{s}://" for s in sorted(self._by_scheme)) or "none"
            shown = f"{scheme}://" if scheme else "a URL without a scheme"
            raise UnsupportedSource(
                f"{_redact(url)}: {shown} is not supported for disk URLs (supported: {supported})"
            )
        return source.open(url)


class MemoryDiskSource:
    """In-memory disks by URL, counting opens so tests can see what was (not) read."""

    def __init__(self, disks: Mapping[str, bytes] | None = None) -> None:
        self.disks: dict[str, bytes] = dict(disks or {})
        self.opened: list[str] = []

    def open(self, url: str) -> BinaryIO:
        if url not in self.disks:
            raise SourceUnreadable(f"the disk at {_redact(url)} can no longer be read")
        self.opened.append(url)
        return io.BytesIO(self.disks[url])


def _redact(url: str) -> str:
    """Drop the query: SAS tokens live there and must never reach a message or a log."""
    parts = urlsplit(url)
    return parts._replace(query="", fragment="").geturl()
