"""Replica storage per region. Calls block; the replicator runs them in a worker thread.

A replica is trusted only when its marker (``<disk>.vhd.sha256``) exists: the marker is written after
the replica was fsynced and renamed into place, and removed before a new copy starts, so a crash at
any point leaves either a verified replica or one that is copied again.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Protocol

from offerflow_provisioning.rules import ReplicaKey

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
TEMP_SUFFIX = ".partial"
MARKER_SUFFIX = ".sha256"


class ReplicaWriter(Protocol):
    def write(self, chunk: bytes) -> None: ...

    def commit(self, sha256: str) -> None:
        """Make the replica durable and visible, then record it as verified."""
        ...

    def discard(self) -> None: ...


class RegionStore(Protocol):
    def verified_sha256(self, key: ReplicaKey) -> str | None: ...

    def open_writer(self, key: ReplicaKey) -> ReplicaWriter:
        """Start a fresh copy, throwing away any leftover of an interrupted one."""
        ...

    def location(self, key: ReplicaKey) -> str: ...


class LocalRegionStore:
    """One folder per region: ``<root>/<region>/<publisher>/<offer>/<plan>/<version>/<disk>.vhd``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: ReplicaKey) -> Path:
        return self.root.joinpath(*key.parts())

    def verified_sha256(self, key: ReplicaKey) -> str | None:
        path = self.path(key)
        marker = path.with_name(path.name + MARKER_SUFFIX)
        try:
            text = marker.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        return text if _HEX64.fullmatch(text) and path.is_file() else None

    def open_writer(self, key: ReplicaKey) -> _LocalWriter:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_name(path.name + MARKER_SUFFIX).unlink(missing_ok=True)
        temp = path.with_name(path.name + TEMP_SUFFIX)
        temp.unlink(
            missing_ok=True
        )  # the leftover of a killed copy is never resumed: its bytes are unverified
        return _LocalWriter(path, temp)

    def location(self, key: ReplicaKey) -> str:
        return self.path(key).resolve().as_uri()


class _LocalWriter:
    def __init__(self, path: Path, temp: Path) -> None:
        self._path = path
        self._temp = temp
        self._file = temp.open("xb")

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)

    def commit(self, sha256: str) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._temp, self._path)
        marker = self._path.with_name(self._path.name + MARKER_SUFFIX)
        marker_temp = marker.with_name(marker.name + TEMP_SUFFIX)
        with marker_temp.open("w", encoding="ascii") as f:
            f.write(sha256 + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(marker_temp, marker)
        _fsync_dir(self._path.parent)

    def discard(self) -> None:
        self._file.close()
        self._temp.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MemoryRegionStore:
    """Replicas in a dict; ``fail_next`` injects errors per region; ``commits`` counts real copies."""

    def __init__(self) -> None:
        self.replicas: dict[ReplicaKey, bytes] = {}
        self.markers: dict[ReplicaKey, str] = {}
        self.commits: list[ReplicaKey] = []
        self.fail_next: dict[str, list[OSError]] = {}

    def verified_sha256(self, key: ReplicaKey) -> str | None:
        return self.markers.get(key) if key in self.replicas else None

    def open_writer(self, key: ReplicaKey) -> _MemoryWriter:
        pending = self.fail_next.get(key.region)
        if pending:
            raise pending.pop(0)
        self.markers.pop(key, None)
        return _MemoryWriter(self, key)

    def location(self, key: ReplicaKey) -> str:
        return "memory://" + key.id


class _MemoryWriter:
    def __init__(self, store: MemoryRegionStore, key: ReplicaKey) -> None:
        self._store = store
        self._key = key
        self._buffer = bytearray()

    def write(self, chunk: bytes) -> None:
        self._buffer += chunk

    def commit(self, sha256: str) -> None:
        self._store.replicas[self._key] = bytes(self._buffer)
        self._store.markers[self._key] = sha256
        self._store.commits.append(self._key)

    def discard(self) -> None:
        self._buffer.clear()
