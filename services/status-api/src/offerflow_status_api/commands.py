"""The portal's commands, checked against the rules and recorded as events on ``offerflow.publishing``."""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from offerflow_shared.envelope import Command, wrap
from offerflow_shared.events import (
    CancelRequested,
    GoLiveRequested,
    OfferDraftSaved,
    OfferSnapshot,
    PublishCanceled,
    PublishRequested,
)
from offerflow_shared.steps import OfferStatus
from pydantic import ConfigDict, Field

from offerflow_status_api import rules
from offerflow_status_api.adapters.bus import EventBus
from offerflow_status_api.adapters.drafts import Draft, Drafts
from offerflow_status_api.adapters.read_model import ReadModel

PRODUCER = "status-api"
_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")


class Refused(Exception):
    def __init__(self, status: int, refusal: rules.Refusal) -> None:
        super().__init__(refusal.message)
        self.status, self.refusal = status, refusal


class NotFound(Exception):
    pass


class Publish(Command):
    publisher_id: str
    offer_id: str
    notification_emails: list[str] = Field(min_length=1)
    requested_by: str


class SaveDraft(Command):
    model_config = ConfigDict(frozen=True, extra="forbid")
    publisher_id: str
    offer_id: str
    offer_type_id: str
    definition: dict[str, Any]
    if_match: str


def parse_emails(raw: str) -> tuple[list[str], list[str]]:
    """(valid, invalid) addresses from the comma-separated list the original API takes."""
    items = [e.strip() for e in raw.split(",") if e.strip()]
    return [e for e in items if _EMAIL.match(e)], [e for e in items if not _EMAIL.match(e)]


@dataclass
class CommandService:
    pool: asyncpg.Pool
    drafts: Drafts
    read_model: ReadModel
    bus: EventBus
    cancel_wait_seconds: float = 15.0

    async def save_draft(self, cmd: SaveDraft) -> tuple[Draft, bool]:
        async with self.pool.acquire() as conn, conn.transaction():
            draft, created = await self.drafts.save(conn, cmd.publisher_id, cmd.offer_id, cmd.offer_type_id,
                                                    cmd.definition, cmd.if_match)
            await self.bus.publish(wrap(
                OfferDraftSaved(offer_type_id=draft.offer_type_id, draft_version=draft.draft_version,
                                etag=draft.etag, definition=draft.definition),
                offer_id=draft.offer_id, publisher_id=draft.publisher_id, run_id=None, producer=PRODUCER))
        return draft, created

    async def publish(self, cmd: Publish) -> str:
        async with self.pool.acquire() as conn, conn.transaction():
            draft = await self.drafts.lock(conn, cmd.publisher_id, cmd.offer_id)
            if draft is None:
                raise NotFound(cmd.offer_id)
            current = await self.read_model.current_run(cmd.publisher_id, cmd.offer_id)
            refusal = rules.can_publish(current, draft.pending_run_id)
            if refusal:
                raise Refused(409, refusal)
            run_id = str(uuid.uuid4())
            version = max(draft.version, current.offer_version or 0 if current else 0) + 1
            snapshot = OfferSnapshot(offer_version=version, definition=draft.definition,
                                     notification_emails=cmd.notification_emails)
            # Emitted while the row lock is held: a concurrent publish waits, then sees this run.
            await self.bus.publish(wrap(PublishRequested(offer=snapshot, requested_by=cmd.requested_by),
                                        offer_id=cmd.offer_id, publisher_id=cmd.publisher_id, run_id=run_id,
                                        producer=PRODUCER))
            await self.drafts.start_run(conn, draft, run_id, version)
            return run_id

    async def go_live(self, publisher_id: str, offer_id: str, requested_by: str) -> str:
        async with self.pool.acquire() as conn, conn.transaction():
            current = await self._signoff_run(conn, publisher_id, offer_id, "Go live")
            await self.bus.publish(wrap(
                GoLiveRequested(offer_version=current.offer_version or 1,
                                notification_emails=current.notification_emails, requested_by=requested_by),
                offer_id=offer_id, publisher_id=publisher_id, run_id=current.run_id, producer=PRODUCER))
            return current.run_id

    async def cancel(self, publisher_id: str, offer_id: str, requested_by: str) -> tuple[str, bool]:
        """Cancel at sign-off; returns (run id, whether the read model already shows it canceled)."""
        async with self.pool.acquire() as conn, conn.transaction():
            current = await self._signoff_run(conn, publisher_id, offer_id, "Cancel")
            requested = wrap(CancelRequested(requested_by=requested_by), offer_id=offer_id,
                             publisher_id=publisher_id, run_id=current.run_id, producer=PRODUCER)
            await self.bus.publish(requested)
            await self.bus.publish(requested.follow(
                PublishCanceled(notification_emails=current.notification_emails), producer=PRODUCER))
        return current.run_id, await self._await_status(current.run_id, OfferStatus.CANCELED)

    async def _signoff_run(self, conn: asyncpg.Connection, publisher_id: str, offer_id: str,
                           action: str) -> rules.RunView:
        if await self.drafts.lock(conn, publisher_id, offer_id) is None:
            raise NotFound(offer_id)
        current = await self.read_model.current_run(publisher_id, offer_id)
        refusal = rules.can_sign_off(current, action)
        if refusal:
            raise Refused(409, refusal)
        assert current is not None
        return current

    async def _await_status(self, run_id: str, status: OfferStatus) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.cancel_wait_seconds
        while loop.time() < deadline:
            view = await self.read_model.fold(run_id)
            if view is not None and view.status == status:
                return True
            await asyncio.sleep(0.1)
        return False
