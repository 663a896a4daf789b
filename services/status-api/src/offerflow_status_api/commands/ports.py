"""What the command side needs from the outside world: one unit of work per offer (lock, state, outbox)."""

from __future__ import annotations

import hashlib
import json
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from offerflow_contract.envelope import Envelope
from offerflow_status_api.commands.state import OfferState


@dataclass(frozen=True)
class Answer:
    """What the API answered a command: kept per Idempotency-Key and given again for a repeat."""

    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    fingerprint: str = ""
    run_id: str | None = None


def fingerprint(action: str, offer_id: str, body: Any = None) -> str:
    """Identifies the request a key was first used for: the same key on another request is refused."""
    raw = json.dumps([action, offer_id, body], sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()


class KeyTaken(Exception):
    """Another transaction stored an answer for the same Idempotency-Key first."""


class StaleETag(Exception):
    pass


class UnitOfWork(Protocol):
    """One transaction on one offer: the offer is locked, and everything below commits together or not at all.

    Nothing inside it waits on anything but this database transaction (no Kafka, no HTTP, no other connection).
    """

    state: OfferState | None

    async def recall(self, key: str) -> Answer | None: ...

    async def remember(self, key: str, answer: Answer) -> None: ...

    async def create(self, state: OfferState) -> OfferState: ...

    async def save(self, state: OfferState) -> None: ...

    def emit(self, envelope: Envelope) -> None: ...

    async def add_support_request(self, row: dict[str, Any]) -> None: ...

    # Quotas. Each call first locks the publisher (until the transaction ends, after the offer's lock), so
    # two commands of one publisher cannot both see room for one more.
    async def publisher_offers(self) -> int: ...

    async def publisher_runs_since(self, since: datetime) -> list[datetime]: ...

    async def record_run(self, run_id: str, at: datetime) -> None: ...


class CommandStore(Protocol):
    def offer(self, publisher_id: str, offer_id: str) -> AbstractAsyncContextManager[UnitOfWork]: ...

    async def recall(self, publisher_id: str, key: str) -> Answer | None: ...

    async def get(self, publisher_id: str, offer_id: str) -> OfferState | None: ...

    async def list(self, publisher_id: str) -> list[OfferState]: ...
