"""Reading the offer's artifacts (logos, screenshots) by URL: file:// here, http(s) through ``egress``, in memory.

Shared because two stages read the same URLs under the same rules: validation decodes them to check pixel
sizes, packaging copies them into the storefront.

Every adapter bounds what it reads (``max_bytes``) and how long it waits, and raises ``ArtifactError`` saying
"the URL is not allowed" or "could not be fetched" (never which network error happened); the URL's query
string (it may carry a signature) never appears in it. Every connection passes the shared ``EgressPolicy``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from offerflow_shared import egress
from offerflow_shared.egress_policy import NOT_ALLOWED, NOT_FETCHED, EgressError, EgressPolicy
from offerflow_shared.urls import redact as redact  # re-exported: callers name it from here

DEFAULT_MAX_BYTES = 5 * 1024 * 1024


class ArtifactError(Exception):
    """The artifact could not be read; the message says why."""


class ArtifactSource(Protocol):
    async def fetch(self, url: str, publisher: str | None = None) -> bytes:
        """The artifact's bytes, or ArtifactError. ``publisher``: whose folder a ``file://`` URL may name."""
        ...


@dataclass
class FileSource:
    """``file://`` URLs under the policy's file root, in the publisher's own folder (development and tests)."""

    policy: EgressPolicy
    max_bytes: int = DEFAULT_MAX_BYTES

    async def fetch(self, url: str, publisher: str | None = None) -> bytes:
        try:
            path = self.policy.file_path(url, publisher)
        except EgressError as exc:
            raise ArtifactError(f"{redact(url)}: {NOT_ALLOWED}") from exc
        return await asyncio.to_thread(self._read, path, url)

    def _read(self, path: Path, url: str) -> bytes:
        try:
            with path.open("rb") as f:
                # Read one byte past the limit instead of trusting stat: the file may grow meanwhile.
                data = f.read(self.max_bytes + 1)
        except OSError as exc:
            raise ArtifactError(f"{redact(url)} {NOT_FETCHED}") from exc
        if len(data) > self.max_bytes:
            raise ArtifactError(f"{redact(url)} is larger than {self.max_bytes} bytes")
        return data


@dataclass
class HttpSource:
    """``http(s)://`` through an egress client: every connection checked and pinned, redirects re-checked,
    a bounded body and one deadline for the whole download, redirects included."""

    policy: EgressPolicy
    max_bytes: int = DEFAULT_MAX_BYTES
    timeout: float = 10.0
    user_agent: str = "offerflow"
    client: httpx.AsyncClient | None = None

    def __post_init__(self) -> None:
        if self.client is None:
            self.client = egress.async_client(self.policy, timeout=self.timeout,
                                              headers={"User-Agent": self.user_agent})

    async def fetch(self, url: str, publisher: str | None = None) -> bytes:
        assert self.client is not None
        try:
            async with asyncio.timeout(self.timeout), egress.stream(self.client, self.policy, url) as response:
                return await self._body(url, response)
        except TimeoutError as exc:
            raise ArtifactError(f"{redact(url)} {NOT_FETCHED} (no answer within {self.timeout:g} s)") from exc
        except EgressError as exc:
            if exc.refused:
                raise ArtifactError(f"{redact(url)}: {NOT_ALLOWED}") from exc
            raise ArtifactError(f"{redact(url)} {exc.message}") from exc

    async def _body(self, url: str, response: httpx.Response) -> bytes:
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > self.max_bytes:
                raise ArtifactError(f"{redact(url)} is larger than {self.max_bytes} bytes")
        return bytes(body)


@dataclass
class SchemeRouter:
    """Hands each URL to the source of its scheme; any other scheme is not allowed."""

    sources: Mapping[str, ArtifactSource]

    async def fetch(self, url: str, publisher: str | None = None) -> bytes:
        try:
            scheme = urlsplit(url).scheme.lower()
        except ValueError as exc:
            raise ArtifactError(f"{redact(url)}: {NOT_ALLOWED}") from exc
        source = self.sources.get(scheme)
        if source is None:
            raise ArtifactError(f"{redact(url)}: {NOT_ALLOWED}")
        return await source.fetch(url, publisher)


def reader(policy: EgressPolicy, *, max_bytes: int, timeout: float, user_agent: str) -> SchemeRouter:
    """The reader every stage uses: http(s) always, file:// only where the policy has a file root."""
    web = HttpSource(policy, max_bytes=max_bytes, timeout=timeout, user_agent=user_agent)
    sources: dict[str, ArtifactSource] = {"https": web, "http": web}
    if policy.file_root is not None:
        sources["file"] = FileSource(policy, max_bytes=max_bytes)
    return SchemeRouter(sources)


@dataclass
class MemoryArtifactSource:
    """The fake: artifacts by URL; anything else is reported missing. Records what was fetched."""

    artifacts: dict[str, bytes] = field(default_factory=dict)
    fetched: list[str] = field(default_factory=list)
    max_bytes: int = DEFAULT_MAX_BYTES

    async def fetch(self, url: str, publisher: str | None = None) -> bytes:
        self.fetched.append(url)
        if url not in self.artifacts:
            raise ArtifactError(f"{redact(url)} does not exist")
        data = self.artifacts[url]
        if len(data) > self.max_bytes:
            raise ArtifactError(f"{redact(url)} is larger than {self.max_bytes} bytes")
        return data
