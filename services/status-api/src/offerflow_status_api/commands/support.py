"""The support desk's commands: open, answer, reply, close. Each decides from the request's command-side row
(``support_requests``, locked for the transaction), never from the read model, and writes its event to the
outbox in the same transaction: a repeated or concurrent answer or close finds the row already moved and is
refused (409) instead of emitting a second event.

Lifecycle: open -> answered (the desk answered) -> open again (the publisher replied) ... -> closed. A closed
request stays closed. The publisher may also add to a request that is still open (a reply changes nothing but
the conversation then).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from offerflow_contract.envelope import Envelope, Event, wrap
from offerflow_contract.events import (
    SupportRequestAnswered,
    SupportRequestClosed,
    SupportRequestOpened,
    SupportRequestReplied,
)
from offerflow_status_api.commands.messages import OpenSupportRequest
from offerflow_status_api.commands.ports import CommandStore
from offerflow_status_api.commands.service import PRODUCER, NotFound

OPEN, ANSWERED, CLOSED = "open", "answered", "closed"
STATUSES = (OPEN, ANSWERED, CLOSED)
Action = Literal["answer", "reply", "close"]
# Where each action may start from, and where it leads.
_FROM: dict[str, tuple[str, ...]] = {"answer": (OPEN,), "reply": (OPEN, ANSWERED), "close": (OPEN, ANSWERED)}
_TO: dict[str, str] = {"answer": ANSWERED, "reply": OPEN, "close": CLOSED}


@dataclass(frozen=True)
class SupportRow:
    """A support request as the command side keeps it."""

    request_id: str
    publisher_id: str
    offer_id: str
    run_id: str | None
    step: str
    title: str
    status: str = OPEN
    seq: int = 1
    contact_emails: tuple[str, ...] = ()

    def to_api(self) -> dict[str, Any]:
        return {"id": self.request_id, "publisherId": self.publisher_id, "offerId": self.offer_id,
                "runId": self.run_id, "step": self.step, "title": self.title, "status": self.status}


class SupportConflict(Exception):
    """The request is not where the action can start from: nothing was recorded."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def refusal(row: SupportRow, action: Action) -> SupportConflict | None:
    """Why ``action`` cannot happen to ``row`` now, or None when it can."""
    if row.status in _FROM[action]:
        return None
    if row.status == CLOSED:
        return SupportConflict("SupportRequestClosed", f"Support request {row.request_id} is closed; "
                               "a closed request stays closed (open a new one).")
    # Only "answer" can get here on a request that is not closed: it was answered already.
    return SupportConflict("SupportRequestAnswered", f"Support request {row.request_id} was answered already "
                           "and waits for the publisher's reply.")


def transition(row: SupportRow, action: Action) -> SupportRow:
    problem = refusal(row, action)
    if problem is not None:
        raise problem
    return replace(row, status=_TO[action], seq=row.seq + 1)


class SupportUnit(Protocol):
    """One transaction on one support request: the row is locked until it commits."""

    row: SupportRow | None

    async def save(self, row: SupportRow) -> None: ...

    def emit(self, envelope: Envelope) -> None: ...


class SupportStore(Protocol):
    def request(self, request_id: str) -> AbstractAsyncContextManager[SupportUnit]: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class SupportDesk:
    commands: CommandStore  # the offer's lock and outbox, for opening a request
    requests: SupportStore
    read_model: Any = None  # the run's context (failed step, its messages) for a new request; never decides
    clock: Callable[[], datetime] = field(default_factory=lambda: _utcnow)

    async def open(self, cmd: OpenSupportRequest) -> dict[str, Any]:
        run = (await self.read_model.fold(cmd.run_id) if cmd.run_id
               else await self.read_model.current_run(cmd.publisher_id, cmd.offer_id))
        if cmd.run_id and (run is None or run.offer_id != cmd.offer_id or run.publisher_id != cmd.publisher_id):
            raise NotFound(f"Operation {cmd.run_id} was not found.")
        step = next((v for v in (run.steps.values() if run else []) if v.status.value == "failed"),
                    run.current_step() if run else None)
        messages = [m.text for m in step.messages if m.level in ("error", "warning")] if step else []
        run_id = run.run_id if run else None
        event = SupportRequestOpened(
            request_id="sr-" + uuid.uuid4().hex[:12], step=step.id.value if step else "none", title=cmd.title,
            description=cmd.description, messages=messages, contact_emails=run.notification_emails if run else [],
            requested_by=cmd.publisher_id)
        async with self.commands.offer(cmd.publisher_id, cmd.offer_id) as uow:
            if uow.state is None:
                raise NotFound(f"Offer {cmd.offer_id} was not found.")
            await uow.add_support_request({
                "request_id": event.request_id, "publisher_id": cmd.publisher_id, "offer_id": cmd.offer_id,
                "run_id": run_id, "step": event.step, "title": cmd.title, "description": cmd.description,
                "contact_emails": list(event.contact_emails)})
            uow.emit(wrap(event, offer_id=cmd.offer_id, publisher_id=cmd.publisher_id, run_id=run_id,
                          producer=PRODUCER, occurred_at=self.clock()))
        return {"id": event.request_id, "offerId": cmd.offer_id, "runId": run_id, "step": event.step,
                "title": cmd.title, "messages": messages, "status": OPEN}

    async def answer(self, request_id: str, message: str, by: str) -> SupportRow:
        return await self._act(request_id, None, "answer", lambda r: SupportRequestAnswered(
            request_id=r.request_id, seq=r.seq, title=r.title, message=message, answered_by=by,
            contact_emails=list(r.contact_emails)))

    async def reply(self, publisher_id: str, request_id: str, message: str) -> SupportRow:
        return await self._act(request_id, publisher_id, "reply", lambda r: SupportRequestReplied(
            request_id=r.request_id, seq=r.seq, title=r.title, message=message, replied_by=publisher_id))

    async def close(self, request_id: str, by: str, *, publisher_id: str | None = None,
                    message: str = "") -> SupportRow:
        """Closed by the support desk (``publisher_id`` None) or by the publisher who owns the request."""
        role: Literal["support", "publisher"] = "support" if publisher_id is None else "publisher"
        return await self._act(request_id, publisher_id, "close", lambda r: SupportRequestClosed(
            request_id=r.request_id, seq=r.seq, title=r.title, closed_by=by, role=role, message=message,
            contact_emails=list(r.contact_emails)))

    async def _act(self, request_id: str, publisher_id: str | None, action: Action,
                   event_of: Callable[[SupportRow], Event]) -> SupportRow:
        async with self.requests.request(request_id) as unit:
            row = unit.row
            # Another publisher's request does not exist for this one.
            if row is None or (publisher_id is not None and row.publisher_id != publisher_id):
                raise NotFound(f"Support request {request_id} was not found.")
            moved = transition(row, action)
            await unit.save(moved)
            unit.emit(wrap(event_of(moved), offer_id=row.offer_id, publisher_id=row.publisher_id,
                           run_id=row.run_id, producer=PRODUCER, occurred_at=self.clock()))
            return moved
