"""The one builder of the status document the API serves: ``GET …/status``, the status stream and
``GET …/operations/{id}`` all answer what this module builds.

It puts together the projection's stored document, the caller's own writes (the command side knows at once
what the projection shows a moment later: a run just accepted shows as running at step 1, a run just canceled
as back at step 1) and the measured ETA with the overdue flag (``eta.annotate``, which depends on the time).
The document itself is rendered by :mod:`offerflow_status_api.status_document`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from offerflow_status_api import eta, status_document
from offerflow_status_api.api.schemas import OperationDocument, StatusDocument
from offerflow_status_api.commands import OfferState, SignOff


class StatusReads(Protocol):
    """What the builder reads from the projection's read model."""

    async def offer(self, publisher_id: str, offer_id: str) -> dict[str, Any] | None: ...

    async def run_document(self, publisher_id: str, offer_id: str, run_id: str) -> dict[str, Any] | None: ...


class DraftReads(Protocol):
    """The command-side state of an offer (its current run as commands left it)."""

    async def get(self, publisher_id: str, offer_id: str) -> OfferState | None: ...


StepStats = Callable[[], Awaitable[Mapping[str, eta.StepStats]]]


async def no_stats() -> Mapping[str, eta.StepStats]:
    """No measured durations: every step shows its static ETA."""
    return {}


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class StatusDocs:
    reads: StatusReads
    drafts: DraftReads
    stats: StepStats = no_stats
    now: Callable[[], datetime] = field(default=utc_now)

    async def offer_status(self, publisher_id: str, offer_id: str,
                           state: OfferState | None = None) -> StatusDocument:
        """The offer's status: its newest run as the projection shows it, with the caller's own writes."""
        state = state or await self.drafts.get(publisher_id, offer_id)
        return StatusDocument.model_validate(await self._annotated(
            await self._offer_document(publisher_id, offer_id, state)))

    async def operation(self, publisher_id: str, offer_id: str, run_id: str,
                        state: OfferState | None) -> OperationDocument | None:
        """One run's document (its own history, even if canceled); None if there is no such run."""
        doc = await self.reads.run_document(publisher_id, offer_id, run_id)
        if doc is None:
            if state is None or state.run_id != run_id:
                return None
            doc = status_document.accepted_document(run_id, offer_id, publisher_id, state.version)
        doc = {**doc, "id": run_id, "publishingVersion": doc.get("offerVersion")}
        return OperationDocument.model_validate(await self._annotated(doc))

    async def _offer_document(self, publisher_id: str, offer_id: str, state: OfferState | None) -> dict[str, Any]:
        view = await self.reads.offer(publisher_id, offer_id)
        current = (view or {}).get("current_run_id")
        if state is not None and state.run_id is not None:
            if state.run_id != current:
                return status_document.accepted_document(state.run_id, offer_id, publisher_id, state.version)
            if state.signoff == SignOff.CANCEL and state.signoff_at is not None:
                return status_document.canceled_document(state.run_id, state.version, state.run_emails,
                                                         state.signoff_at)
        if current:
            doc = await self.reads.run_document(publisher_id, offer_id, current)
            if doc:
                return status_document.offer_status(doc)
        return status_document.status_document(None)

    async def _annotated(self, doc: dict[str, Any]) -> dict[str, Any]:
        return eta.annotate(doc, await self.stats(), self.now())
