"""The portal's commands, checked against the rules and recorded as events on ``offerflow.publishing``."""

from __future__ import annotations

import asyncio
import copy
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from pydantic import Field

from offerflow_shared.envelope import Command, wrap
from offerflow_shared.events import (
    CancelRequested,
    GoLiveRequested,
    OfferDraftSaved,
    OfferSnapshot,
    PublishCanceled,
    PublishRequested,
    Reason,
    SupportRequestOpened,
)
from offerflow_shared.offer import IMAGES_KEY, plans
from offerflow_shared.secrets import SecretBox
from offerflow_shared.steps import OfferStatus
from offerflow_status_api import documents, rules
from offerflow_status_api.adapters.bus import EventBus
from offerflow_status_api.adapters.drafts import Draft, Drafts
from offerflow_status_api.adapters.read_model import ReadModel

PRODUCER = "status-api"
_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")


class FrozenFields(Exception):
    def __init__(self, reasons: list[Reason]) -> None:
        super().__init__("; ".join(r.message for r in reasons))
        self.reasons = reasons


class ImageVersionConflict(Exception):
    pass


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
    publisher_id: str
    offer_id: str
    offer_type_id: str
    definition: dict[str, Any]
    if_match: str


class AddImageVersion(Command):
    publisher_id: str
    offer_id: str
    plan_id: str
    version: str
    image: dict[str, Any]


class OpenSupportRequest(Command):
    publisher_id: str
    offer_id: str
    run_id: str | None
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=10_000)


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
    secrets: SecretBox = field(default_factory=lambda: SecretBox(None))
    cancel_wait_seconds: float = 15.0

    async def save_draft(self, cmd: SaveDraft) -> tuple[Draft, bool]:
        async with self.pool.acquire() as conn, conn.transaction():
            return await self._save(conn, cmd)

    async def _save(self, conn: asyncpg.Connection, cmd: SaveDraft) -> tuple[Draft, bool]:
        stored = await self.drafts.lock(conn, cmd.publisher_id, cmd.offer_id)
        # Sealed before it is stored or put on a topic: a credential never rests or travels in clear.
        definition = self.secrets.seal(
            documents.keep_stored_secrets(cmd.definition, stored.definition if stored else None))
        live_version = await self.read_model.slot_version(cmd.publisher_id, cmd.offer_id, "Production")
        live = await self.read_model.version(cmd.publisher_id, cmd.offer_id, live_version) if live_version else None
        frozen = documents.frozen_field_problems(live["definition"] if live else None, definition)
        if frozen:
            raise FrozenFields(frozen)
        draft, created = await self.drafts.save(conn, cmd.publisher_id, cmd.offer_id, cmd.offer_type_id,
                                                definition, cmd.if_match)
        await self.bus.publish(wrap(
            OfferDraftSaved(offer_type_id=draft.offer_type_id, draft_version=draft.draft_version,
                            etag=draft.etag, definition=draft.definition),
            offer_id=draft.offer_id, publisher_id=draft.publisher_id, run_id=None, producer=PRODUCER))
        return draft, created

    async def add_image_version(self, cmd: AddImageVersion) -> tuple[Draft, bool]:
        """Adds one image version to one plan; repeating the same call changes nothing."""
        async with self.pool.acquire() as conn, conn.transaction():
            draft = await self.drafts.lock(conn, cmd.publisher_id, cmd.offer_id)
            if draft is None:
                raise NotFound(f"Offer {cmd.offer_id} was not found.")
            definition = copy.deepcopy(draft.definition)
            plan = next((p for p in plans(definition) if p.get("planId") == cmd.plan_id), None)
            if plan is None:
                raise NotFound(f"Offer {cmd.offer_id} has no plan {cmd.plan_id}.")
            images = plan.setdefault(IMAGES_KEY, {})
            if cmd.version in images:
                if images[cmd.version] == cmd.image:
                    return draft, False
                raise ImageVersionConflict(
                    f"Plan {cmd.plan_id} already has image version {cmd.version} with other content; "
                    "versions are immutable, add a higher one.")
            images[cmd.version] = cmd.image
            return (await self._save(conn, SaveDraft(
                publisher_id=cmd.publisher_id, offer_id=cmd.offer_id, offer_type_id=draft.offer_type_id,
                definition=definition, if_match=draft.etag)))[0], True

    async def open_support_request(self, cmd: OpenSupportRequest) -> dict[str, Any]:
        run = (await self.read_model.fold(cmd.run_id) if cmd.run_id
               else await self.read_model.current_run(cmd.publisher_id, cmd.offer_id))
        if cmd.run_id and (run is None or run.offer_id != cmd.offer_id or run.publisher_id != cmd.publisher_id):
            raise NotFound(f"Operation {cmd.run_id} was not found.")
        step = next((v for v in (run.steps.values() if run else []) if v.status.value == "failed"),
                    run.current_step() if run else None)
        messages = [m.text for m in step.messages if m.level in ("error", "warning")] if step else []
        request_id = "sr-" + uuid.uuid4().hex[:12]
        event = SupportRequestOpened(
            request_id=request_id, step=step.id.value if step else "none", title=cmd.title,
            description=cmd.description, messages=messages, contact_emails=run.notification_emails if run else [],
            requested_by=cmd.publisher_id)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """INSERT INTO support_requests (request_id, publisher_id, offer_id, run_id, step, title, description)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)""",
                request_id, cmd.publisher_id, cmd.offer_id, run.run_id if run else None, event.step, cmd.title,
                cmd.description)
            await self.bus.publish(wrap(event, offer_id=cmd.offer_id, publisher_id=cmd.publisher_id,
                                        run_id=run.run_id if run else None, producer=PRODUCER))
        return {"id": request_id, "offerId": cmd.offer_id, "runId": run.run_id if run else None,
                "step": event.step, "title": cmd.title, "messages": messages}

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
