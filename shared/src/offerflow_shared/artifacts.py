"""Reading the offer's artifacts (logos, screenshots) by URL: file:// here, http(s) with httpx, in memory.

Shared because two stages read the same URLs under the same rules: validation decodes them to check pixel
sizes, packaging copies them into the storefront.

Every adapter bounds what it reads (``max_bytes``) and how long it waits, and raises ``ArtifactError`` with
a message the publisher can act on; the URL's query string (it may carry a signature) never appears in it.
Redirects are followed by hand so that every hop passes the shared SSRF rule (``netguard.check_url``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import httpx

from offerflow_shared import netguard

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5


class ArtifactError(Exception):
    """The artifact could not be read; the message says why."""


class ArtifactSource(Protocol):
    async def fetch(self, url: str) -> bytes:
        """The artifact's bytes, or ArtifactError."""
        ...


def redact(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"


@dataclass
class FileSource:
    """``file://`` URLs of local paths (development and tests); a remote host in the URL is refused."""

    max_bytes: int = DEFAULT_MAX_BYTES

    async def fetch(self, url: str) -> bytes:
        parts = urlsplit(url)
        if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
            raise ArtifactError(f"{redact(url)} is not a local file:// URL")
        return await asyncio.to_thread(self._read, Path(unquote(parts.path)), url)

    def _read(self, path: Path, url: str) -> bytes:
        try:
            if not path.is_file():
                raise ArtifactError(f"{redact(url)} does not exist")
            with path.open("rb") as f:
                # Read one byte past the limit instead of trusting stat: the file may grow meanwhile.
                data = f.read(self.max_bytes + 1)
        except OSError as exc:
            raise ArtifactError(f"{redact(url)} cannot be read: {exc.strerror or exc}") from exc
        if len(data) > self.max_bytes:
            raise ArtifactError(f"{redact(url)} is larger than {self.max_bytes} bytes")
        return data


@dataclass
class HttpSource:
    """``http(s)://`` with a bounded body and one deadline for the whole download, redirects included."""

    client: httpx.AsyncClient
    max_bytes: int = DEFAULT_MAX_BYTES
    timeout: float = 10.0
    allow_private: bool = True

    async def fetch(self, url: str) -> bytes:
        try:
            async with asyncio.timeout(self.timeout):
                return await self._get(url)
        except TimeoutError as exc:
            raise ArtifactError(f"{redact(url)} did not answer within {self.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise ArtifactError(f"{redact(url)} cannot be downloaded: {type(exc).__name__}") from exc
        except netguard.BlockedTarget as exc:
            raise ArtifactError(f"{redact(url)} is not allowed: {exc.reason}") from exc

    async def _get(self, url: str) -> bytes:
        target = url
        for _ in range(MAX_REDIRECTS + 1):
            await netguard.check_url(target, allow_private=self.allow_private)
            async with self.client.stream("GET", target, follow_redirects=False) as response:
                if response.is_redirect and "location" in response.headers:
                    target = str(response.url.join(response.headers["location"]))
                    continue
                return await self._body(url, response)
        raise ArtifactError(f"{redact(url)} redirects more than {MAX_REDIRECTS} times")

    async def _body(self, url: str, response: httpx.Response) -> bytes:
        if response.status_code != 200:
            raise ArtifactError(f"{redact(url)} answered HTTP {response.status_code}")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > self.max_bytes:
                raise ArtifactError(f"{redact(url)} is larger than {self.max_bytes} bytes")
        return bytes(body)


@dataclass
class SchemeRouter:
    """Hands each URL to the source of its scheme."""

    sources: Mapping[str, ArtifactSource]

    async def fetch(self, url: str) -> bytes:
        try:
            scheme = urlsplit(url).scheme.lower()
        except ValueError as exc:
            raise ArtifactError(f"{redact(url)} is not a valid URL") from exc
        source = self.sources.get(scheme)
        if source is None:
            allowed = ", ".join(f"{s}://" for s in sorted(self.sources))
            raise ArtifactError(f"{redact(url)}: unsupported URL scheme; use {allowed}")
        return await source.fetch(url)


@dataclass
class MemoryArtifactSource:
    """The fake: artifacts by URL; anything else is reported missing. Records what was fetched."""

    artifacts: dict[str, bytes] = field(default_factory=dict)
    fetched: list[str] = field(default_factory=list)
    max_bytes: int = DEFAULT_MAX_BYTES

    async def fetch(self, url: str) -> bytes:
        self.fetched.append(url)
        if url not in self.artifacts:
            raise ArtifactError(f"{redact(url)} does not exist")
        data = self.artifacts[url]
        if len(data) > self.max_bytes:
            raise ArtifactError(f"{redact(url)} is larger than {self.max_bytes} bytes")
        return data
