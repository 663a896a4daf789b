"""The publisher's commands: each decides from command-side state and writes its events to the outbox in the
same transaction. The projection (read model) is never consulted to accept or refuse a command."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from offerflow_contract.envelope import Envelope, wrap
from offerflow_contract.events import (
    CancelRequested,
    GoLiveRequested,
    OfferDraftSaved,
    OfferSnapshot,
    PublishCanceled,
    PublishRequested,
    Reason,
)
from offerflow_shared.offer import IMAGES_KEY, plans
from offerflow_shared.secrets import SecretBox
from offerflow_status_api import documents, status_document
from offerflow_status_api.commands import rules
from offerflow_status_api.commands.messages import (
    AddImageVersion,
    Cancel,
    GoLive,
    Publish,
    SaveDraft,
    SignOffCommand,
)
from offerflow_status_api.commands.ports import Answer, CommandStore, KeyTaken, StaleETag, UnitOfWork, fingerprint
from offerflow_status_api.commands.state import OfferState, SignOff

PRODUCER = "status-api"
API_VERSION = "2017-10-31"


class FrozenFields(Exception):
    def __init__(self, reasons: list[Reason]) -> None:
        super().__init__("; ".join(r.message for r in reasons))
        self.reasons = reasons


class QuotaExceeded(Exception):
    """A command the publisher's quota does not admit; nothing was recorded."""

    def __init__(self, refusal: rules.QuotaRefusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


class ImageVersionConflict(Exception):
    pass


class NotFound(Exception):
    pass


def operation_location(pub: str, offer: str, run_id: str) -> str:
    return f"/api/publishers/{pub}/offers/{offer}/operations/{run_id}?api-version={API_VERSION}"


def refusal_answer(r: rules.Refusal, fp: str, status: int = 409) -> Answer:
    return Answer(status, {"error": {"code": r.code, "message": r.message, "details": [],
                                     "retryable": r.retryable}}, fingerprint=fp)


def quota_answer(r: rules.QuotaRefusal, fp: str) -> Answer:
    """429 with Retry-After: the publisher may retry once the quota admits the command again."""
    headers = {"Retry-After": str(r.retry_after)} if r.retry_after is not None else {}
    return Answer(429, refusal_answer(r, fp).body, headers, fp)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _event(state: OfferState, event: Any, run_id: str | None, at: datetime | None = None) -> Envelope:
    return wrap(event, offer_id=state.offer_id, publisher_id=state.publisher_id, run_id=run_id, producer=PRODUCER,
                occurred_at=at)


@dataclass
class CommandService:
    store: CommandStore
    read_model: Any = None  # the projection, for the routes and the support desk's context; never decides
    secrets: SecretBox = field(default_factory=lambda: SecretBox(None))
    quotas: rules.Quotas = field(default_factory=rules.Quotas)
    clock: Callable[[], datetime] = field(default_factory=lambda: _utcnow)

    @property
    def drafts(self) -> CommandStore:
        return self.store

    # --- drafts -----------------------------------------------------------------------------------

    async def save_draft(self, cmd: SaveDraft) -> tuple[OfferState, bool]:
        async with self.store.offer(cmd.publisher_id, cmd.offer_id) as uow:
            return await self._save(uow, cmd)

    async def _save(self, uow: UnitOfWork, cmd: SaveDraft) -> tuple[OfferState, bool]:
        stored = uow.state
        if stored is not None and cmd.if_match not in ("*", stored.etag):
            raise StaleETag(stored.etag)
        # Sealed before it is stored or put on a topic: a credential never rests or travels in clear.
        definition = self.secrets.seal(
            documents.keep_stored_secrets(cmd.definition, stored.definition if stored else None))
        frozen = documents.frozen_field_problems(stored.live_definition if stored else None, definition)
        if frozen:
            raise FrozenFields(frozen)
        etag = f'"{uuid.uuid4().hex}"'
        if stored is None and (over := rules.offer_quota(self.quotas, await uow.publisher_offers())):
            raise QuotaExceeded(over)
        if stored is None:
            draft = await uow.create(OfferState(cmd.publisher_id, cmd.offer_id, cmd.offer_type_id, definition,
                                                etag, draft_version=1))
        else:
            draft = stored.replace(offer_type_id=cmd.offer_type_id, definition=definition, etag=etag,
                                   draft_version=stored.draft_version + 1)
            await uow.save(draft)
        uow.emit(_event(draft, OfferDraftSaved(offer_type_id=draft.offer_type_id, draft_version=draft.draft_version,
                                               etag=draft.etag, definition=draft.definition), None))
        return draft, stored is None

    async def add_image_version(self, cmd: AddImageVersion) -> tuple[OfferState, bool]:
        """Adds one image version to one plan; repeating the same call changes nothing."""
        async with self.store.offer(cmd.publisher_id, cmd.offer_id) as uow:
            draft = uow.state
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
            saved, _ = await self._save(uow, SaveDraft(
                publisher_id=cmd.publisher_id, offer_id=cmd.offer_id, offer_type_id=draft.offer_type_id,
                definition=definition, if_match=draft.etag))
            return saved, True

    # --- publishing -------------------------------------------------------------------------------

    async def publish(self, cmd: Publish) -> Answer:
        fp = fingerprint("publish", cmd.offer_id, sorted(cmd.notification_emails))

        async def decide(uow: UnitOfWork, state: OfferState) -> Answer:
            refusal = rules.can_publish(state)
            if refusal:
                return refusal_answer(refusal, fp)
            now = self.clock()
            over = rules.run_quota(self.quotas, await uow.publisher_runs_since(now - rules.RUN_WINDOW), now)
            if over:
                return quota_answer(over, fp)
            run_id = str(uuid.uuid4())
            await uow.record_run(run_id, now)
            started = state.started(run_id, state.version + 1, cmd.notification_emails)
            snapshot = OfferSnapshot(offer_version=started.version, definition=state.definition,
                                     notification_emails=cmd.notification_emails)
            uow.emit(_event(state, PublishRequested(offer=snapshot, requested_by=cmd.requested_by), run_id))
            await uow.save(started)
            return Answer(202, None, {"Location": operation_location(cmd.publisher_id, cmd.offer_id, run_id)},
                          fp, run_id)

        return await self._command(cmd.publisher_id, cmd.offer_id, cmd.idempotency_key, fp, decide)

    async def go_live(self, cmd: GoLive) -> Answer:
        return await self._sign_off(cmd, SignOff.GO_LIVE)

    async def cancel(self, cmd: Cancel) -> Answer:
        return await self._sign_off(cmd, SignOff.CANCEL)

    async def _sign_off(self, cmd: SignOffCommand, choice: SignOff) -> Answer:
        fp = fingerprint(choice.value, cmd.offer_id)

        async def decide(uow: UnitOfWork, state: OfferState) -> Answer:
            if choice == SignOff.CANCEL and rules.cancel_is_repeat(state):
                return self.canceled_answer(state, fp)
            refusal = rules.can_go_live(state) if choice == SignOff.GO_LIVE else rules.can_cancel(state)
            if refusal:
                return refusal_answer(refusal, fp)
            assert state.run_id is not None
            decided = state.signed_off(choice, datetime.now(UTC))
            await uow.save(decided)
            if choice == SignOff.GO_LIVE:
                uow.emit(_event(state, GoLiveRequested(offer_version=state.version,
                                                       notification_emails=state.run_emails,
                                                       requested_by=cmd.requested_by), state.run_id))
                return Answer(202, None, {"Location": operation_location(
                    cmd.publisher_id, cmd.offer_id, state.run_id)}, fp, state.run_id)
            requested = _event(state, CancelRequested(requested_by=cmd.requested_by), state.run_id,
                               decided.signoff_at)
            uow.emit(requested)
            # The cancel is the run's end: stamped with the decision's time, so every rendering of it (this
            # answer, a repeated Cancel, the projection) shows the same document.
            canceled = requested.follow(PublishCanceled(notification_emails=state.run_emails), producer=PRODUCER)
            uow.emit(canceled.model_copy(update={"occurred_at": decided.signoff_at}))
            return self.canceled_answer(decided, fp)

        return await self._command(cmd.publisher_id, cmd.offer_id, cmd.idempotency_key, fp, decide)

    async def _command(self, publisher_id: str, offer_id: str, key: str | None, fp: str,
                       decide: Callable[[UnitOfWork, OfferState], Awaitable[Answer]]) -> Answer:
        """One publishing command in one unit of work: a repeated Idempotency-Key gets the first answer, else
        ``decide`` answers (and emits) from the offer's locked state; the answer is kept for the key."""
        try:
            async with self.store.offer(publisher_id, offer_id) as uow:
                prior = await self._prior(uow, key, fp)
                if prior is not None:
                    return prior
                if uow.state is None:
                    raise NotFound(offer_id)
                return await self._answer(uow, key, await decide(uow, uow.state))
        except KeyTaken:
            return await self._taken(publisher_id, key, fp)

    @staticmethod
    def canceled_answer(state: OfferState, fp: str = "") -> Answer:
        assert state.run_id is not None and state.signoff_at is not None
        doc = status_document.canceled_document(state.run_id, state.version, state.run_emails, state.signoff_at)
        return Answer(200, doc, {"Location": operation_location(state.publisher_id, state.offer_id, state.run_id)},
                      fp, state.run_id)

    async def _prior(self, uow: UnitOfWork, key: str | None, fp: str) -> Answer | None:
        if key is None:
            return None
        prior = await uow.recall(key)
        return _check_prior(prior, fp)

    @staticmethod
    async def _answer(uow: UnitOfWork, key: str | None, answer: Answer) -> Answer:
        # A quota's 429 is not the key's answer: the same request, retried once the quota admits it, must act.
        if key is not None and answer.status != 429:
            await uow.remember(key, answer)
        return answer

    async def _taken(self, publisher_id: str, key: str | None, fp: str) -> Answer:
        assert key is not None
        prior = _check_prior(await self.store.recall(publisher_id, key), fp)
        assert prior is not None
        return prior


def _check_prior(prior: Answer | None, fp: str) -> Answer | None:
    if prior is None or prior.fingerprint == fp:
        return prior
    return Answer(409, {"error": {"code": "IdempotencyKeyReused", "details": [], "retryable": False,
                                  "message": "This Idempotency-Key was already used for another request; "
                                             "use a new key for a new request."}}, fingerprint=fp)
