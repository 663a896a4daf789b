"""The port of one region's replica storage. Calls block; the replicator runs them in worker threads.

Storage is **content-addressed**: a disk's bytes live once per region under the key of their SHA-256
(``content/sha256/<hex>``), and each replica (publisher, offer, plan, version, disk) is a small manifest that
points at the content. A disk already present in a region (another version, another offer, a republish) is
referenced, not copied again. Content appears only when a complete, verified upload is committed, so its
presence is proof of its bytes: an interrupted upload never leaves a visible object, only parts to abort.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from offerflow_provisioning.rules import ReplicaKey


@dataclass(frozen=True)
class Content:
    sha256: str
    size: int

    @property
    def key(self) -> str:
        return f"content/sha256/{self.sha256}"


class ContentUpload(Protocol):
    def put_part(self, number: int, data: bytes) -> None:
        """Send part ``number`` (1-based, in order); the storage checks its SHA-256 on arrival."""
        ...

    def complete(self) -> None:
        """Commit the object; raises if the storage's checksum of what it stored is not ours."""
        ...

    def abort(self) -> None: ...


class RegionStore(Protocol):
    name: str
    shown: str  # the endpoint and bucket, as the status names where replicas are (never credentials)

    def has_content(self, content: Content) -> bool: ...

    def begin(self, content: Content) -> ContentUpload:
        """Start a fresh upload of ``content``, first aborting any unfinished upload left for its key."""
        ...

    def link(self, key: ReplicaKey, content: Content) -> None:
        """Write the replica's manifest pointing at ``content`` (idempotent)."""
        ...

    def linked(self, key: ReplicaKey) -> str | None:
        """The SHA-256 the replica's manifest points at, if there is one."""
        ...

    def location(self, content: Content) -> str:
        """Where the replica's bytes are, endpoint included (shown to the publisher)."""
        ...
