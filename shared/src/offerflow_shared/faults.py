"""Fault injection for tests and chaos runs: a real failure raised by the real runtime, never a mock.

When a directory is configured (``OFFERFLOW_FAULTS_DIR``) and it holds a file named after the service,
every input event of an offer listed in that file (one offer id per line, ``#`` starts a comment) fails
with :class:`InjectedFault` before the handler runs. Arming and disarming is writing and removing that
file; it is read on every event, so no restart is needed. Refused at start in production (see settings).
"""

from __future__ import annotations

from pathlib import Path

from offerflow_shared.errors import Deterministic


class InjectedFault(Deterministic):
    """A failure planted on purpose for one offer; handled like any deterministic handler error."""


class Faults:
    def __init__(self, directory: Path | None, service: str) -> None:
        self._file = directory / service if directory is not None else None

    @property
    def enabled(self) -> bool:
        return self._file is not None

    def armed(self) -> set[str]:
        if self._file is None:
            return set()
        try:
            text = self._file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return set()
        return {s for s in (line.split("#", 1)[0].strip() for line in text.splitlines()) if s}

    def check(self, offer_id: str) -> None:
        if offer_id in self.armed():
            raise InjectedFault(f"fault injected for offer {offer_id!r} ({self._file})")


NO_FAULTS = Faults(None, "")
