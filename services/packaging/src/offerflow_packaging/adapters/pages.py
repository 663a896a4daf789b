"""Page slots: ``<root>/<publisher>/<offer>/<slot>/<file>``. Calls block; callers run them in a thread.

File names are plain (``index.html``) or the one sub-folder of copied artifacts (``assets/<file>``).
Each file is replaced atomically (temp + fsync + rename). A slot's files are written in the order
given and removed audience first, so a preview is never served to anyone while half written or removed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from offerflow_packaging import rules
from offerflow_packaging.rules import AUDIENCE
from offerflow_shared.names import safe_segment


class PageStore(Protocol):
    def write_slot(self, publisher: str, offer: str, slot: str, files: Mapping[str, bytes]) -> None: ...

    def read(self, publisher: str, offer: str, slot: str, name: str) -> bytes | None: ...

    def remove_slot(self, publisher: str, offer: str, slot: str) -> bool:
        """True if there was something to remove."""
        ...


def _check(publisher: str, offer: str, slot: str, name: str | None = None) -> None:
    safe_segment(publisher, "publisher id")
    safe_segment(offer, "offer id")
    if slot not in (rules.PREVIEW, rules.PRODUCTION):
        raise ValueError(f"unknown page slot {slot!r}")
    if name is None or rules.asset_file(name) is not None:
        return  # the one sub-folder: ``assets/<16 hex>.<png|jpg>``, nothing that could climb out
    if name != os.path.basename(name) or name.startswith("."):
        raise ValueError(f"bad page file name {name!r}")


class LocalPageStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def slot_dir(self, publisher: str, offer: str, slot: str) -> Path:
        _check(publisher, offer, slot)
        return self.root / publisher / offer / slot

    def write_slot(self, publisher: str, offer: str, slot: str, files: Mapping[str, bytes]) -> None:
        folder = self.slot_dir(publisher, offer, slot)
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            _check(publisher, offer, slot, name)
            target = folder / name
            target.parent.mkdir(exist_ok=True)
            temp = target.parent / f".{target.name}.tmp"
            with temp.open("wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, target)

    def read(self, publisher: str, offer: str, slot: str, name: str) -> bytes | None:
        _check(publisher, offer, slot, name)
        try:
            return (self.slot_dir(publisher, offer, slot) / name).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def remove_slot(self, publisher: str, offer: str, slot: str) -> bool:
        folder = self.slot_dir(publisher, offer, slot)
        if not folder.exists():
            return False
        (folder / AUDIENCE).unlink(missing_ok=True)
        shutil.rmtree(folder)
        return True


class MemoryPageStore:
    """Slots in a dict; set ``fail_with`` to make the next write raise it."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, str, str, str], bytes] = {}
        self.writes = 0
        self.fail_with: OSError | None = None

    def write_slot(self, publisher: str, offer: str, slot: str, files: Mapping[str, bytes]) -> None:
        _check(publisher, offer, slot)
        if self.fail_with is not None:
            raise self.fail_with
        for name, data in files.items():
            _check(publisher, offer, slot, name)
            self.files[(publisher, offer, slot, name)] = data
        self.writes += 1

    def read(self, publisher: str, offer: str, slot: str, name: str) -> bytes | None:
        _check(publisher, offer, slot, name)
        return self.files.get((publisher, offer, slot, name))

    def remove_slot(self, publisher: str, offer: str, slot: str) -> bool:
        _check(publisher, offer, slot)
        keys = [k for k in self.files if k[:3] == (publisher, offer, slot)]
        for k in keys:
            del self.files[k]
        return bool(keys)
