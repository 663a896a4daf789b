"""In-memory regions for unit tests: the same content-addressed behaviour as object storage, plus faults."""

from __future__ import annotations

import hashlib

from offerflow_provisioning.adapters.regions import Content
from offerflow_provisioning.rules import ReplicaKey


class MemoryRegionStore:
    """One region. ``fail_next`` raises the given errors on the next uploads' parts; ``corrupt`` stores a
    wrong byte (the storage then reports a checksum that is not ours); ``uploads`` counts content uploads."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.shown = f"memory://{name}"
        self.contents: dict[str, bytes] = {}
        self.manifests: dict[ReplicaKey, str] = {}
        self.uploads: list[str] = []
        self.unfinished: dict[int, str] = {}  # upload id -> content sha256
        self.fail_next: list[OSError] = []
        self.corrupt = False

    def has_content(self, content: Content) -> bool:
        return len(self.contents.get(content.sha256, b"\0" * (content.size + 1))) == content.size

    @property
    def open_uploads(self) -> int:
        return len(self.unfinished)

    def begin(self, content: Content) -> _MemoryUpload:
        # Leftovers of earlier uploads of this content are aborted first, as the real store does.
        self.unfinished = {k: v for k, v in self.unfinished.items() if v != content.sha256}
        upload = _MemoryUpload(self, content)
        self.unfinished[id(upload)] = content.sha256
        return upload

    def link(self, key: ReplicaKey, content: Content) -> None:
        if content.sha256 not in self.contents:
            raise AssertionError("linked to content that is not there")
        self.manifests[key] = content.sha256

    def linked(self, key: ReplicaKey) -> str | None:
        return self.manifests.get(key)

    def location(self, content: Content) -> str:
        return f"memory://{self.name}/{content.key}"


class _MemoryUpload:
    def __init__(self, store: MemoryRegionStore, content: Content) -> None:
        self._store, self._content = store, content
        self._parts: list[bytes] = []

    def put_part(self, number: int, data: bytes) -> None:
        if self._store.fail_next:
            raise self._store.fail_next.pop(0)
        assert number == len(self._parts) + 1
        self._parts.append(data)

    def complete(self) -> None:
        data = b"".join(self._parts)
        if self._store.corrupt:
            data = bytes([data[0] ^ 1]) + data[1:] if data else b"\1"
        if hashlib.sha256(data).hexdigest() != self._content.sha256:
            self._store.unfinished.pop(id(self), None)
            raise ConnectionError(f"region {self._store.name}: the stored object's checksum is not ours")
        self._store.contents[self._content.sha256] = data
        self._store.uploads.append(self._content.sha256)
        self._store.unfinished.pop(id(self), None)

    def abort(self) -> None:
        self._store.unfinished.pop(id(self), None)
