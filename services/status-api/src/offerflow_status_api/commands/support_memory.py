"""In-memory support store for unit tests, over the in-memory command store's support rows: the same lock per
request, nothing committed when the command raises."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from offerflow_contract.envelope import Envelope
from offerflow_status_api.commands.memory import MemoryCommandStore
from offerflow_status_api.commands.support import SupportRow


class MemorySupportUnit:
    def __init__(self, row: SupportRow | None) -> None:
        self.row = row
        self.saved: SupportRow | None = None
        self.pending: list[Envelope] = []

    async def save(self, row: SupportRow) -> None:
        self.saved = self.row = row

    def emit(self, envelope: Envelope) -> None:
        self.pending.append(envelope)


@dataclass
class MemorySupportStore:
    commands: MemoryCommandStore
    locks: defaultdict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))

    def _index(self, request_id: str) -> int | None:
        return next((i for i, r in enumerate(self.commands.support) if r["request_id"] == request_id), None)

    def get(self, request_id: str) -> SupportRow | None:
        i = self._index(request_id)
        if i is None:
            return None
        r = self.commands.support[i]
        return SupportRow(request_id=r["request_id"], publisher_id=r["publisher_id"], offer_id=r["offer_id"],
                          run_id=r["run_id"], step=r["step"], title=r["title"], status=r.get("status", "open"),
                          seq=r.get("seq", 1), contact_emails=tuple(r.get("contact_emails", [])))

    @asynccontextmanager
    async def request(self, request_id: str) -> AsyncIterator[MemorySupportUnit]:
        async with self.locks[request_id]:
            unit = MemorySupportUnit(self.get(request_id))
            yield unit
            i = self._index(request_id)
            if unit.saved is not None and i is not None:
                self.commands.support[i] = {**self.commands.support[i], "status": unit.saved.status,
                                            "seq": unit.saved.seq}
            self.commands.outbox += unit.pending
