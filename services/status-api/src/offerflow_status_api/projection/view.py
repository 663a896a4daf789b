"""What a run looks like once its events are folded: the shape the status document is rendered from."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from offerflow_contract.steps import STEP_INDEX, STEPS, OfferStatus, StepId, StepStatus

TERMINAL = {OfferStatus.SUCCEEDED, OfferStatus.FAILED, OfferStatus.CANCELED}


@dataclass
class Message:
    level: str
    text: str
    at: datetime
    field: str | None = None
    code: str | None = None

    def to_api(self) -> dict[str, Any]:
        # Messages are text (often quoting what the publisher typed); the HTML form is always escaped.
        out: dict[str, Any] = {"messageHtml": html.escape(self.text), "level": self.level,
                               "timestamp": self.at.isoformat()}
        if self.field:
            out["field"] = self.field
        if self.code:
            out["code"] = self.code
        return out


@dataclass
class StepView:
    id: StepId
    status: StepStatus = StepStatus.NOT_STARTED
    progress: int = 0
    messages: list[Message] = field(default_factory=list)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)  # extra camelCase fields of the step (staging's reports)

    def to_api(self) -> dict[str, Any]:
        info = STEPS[STEP_INDEX[self.id]]
        return {
            "id": self.id.value,
            "stepName": info.name,
            "description": info.description,
            "estimatedTimeFrame": info.eta,
            "nextSteps": info.next_steps,
            "status": self.status.value,
            "progressPercentage": self.progress,
            "messages": [m.to_api() for m in sorted(self.messages, key=lambda m: m.at)],
            "startedAt": self.started_at.isoformat() if self.started_at else None,
            "finishedAt": self.finished_at.isoformat() if self.finished_at else None,
            **self.details,
        }


@dataclass
class RunView:
    run_id: str
    offer_id: str
    publisher_id: str
    offer_version: int | None = None
    status: OfferStatus = OfferStatus.RUNNING
    requested: bool = False
    requested_at: datetime | None = None
    finished_at: datetime | None = None
    notification_emails: list[str] = field(default_factory=list)
    preview_links: list[str] = field(default_factory=list)
    live_links: list[str] = field(default_factory=list)
    steps: dict[StepId, StepView] = field(default_factory=lambda: {s.id: StepView(s.id) for s in STEPS})
    submission_type: str = "publish"
    cancellation_requested: bool = False
    preview_ready: bool = False
    preview_withdrawn: bool = False
    preview_audiences: list[frozenset[str]] = field(default_factory=list)

    @property
    def preview_open(self) -> bool:
        return self.preview_ready and not self.preview_withdrawn

    @property
    def went_live(self) -> bool:
        return self.steps[StepId.LIVE].status == StepStatus.COMPLETE

    @property
    def cancellation_request_state(self) -> str:
        if self.status == OfferStatus.CANCELED:
            return "canceled"
        if self.status == OfferStatus.WAITING_FOR_PUBLISHER_REVIEW:
            return "canCancel"
        return "cannotCancel"

    def current_step(self) -> StepView:
        active = [s for s in self.steps.values() if s.status != StepStatus.NOT_STARTED]
        return active[-1] if active else self.steps[StepId.VALIDATION]


@dataclass(frozen=True)
class Applied:
    """What the read model did with an event: ``new`` is False for a duplicate (already archived); ``view`` is
    its run's view once the event is in, if it belongs to a run whose publish request has arrived."""

    new: bool
    view: RunView | None = None


def infer_earlier_steps_complete(view: RunView) -> None:
    """A later step's activity proves every earlier step passed, whatever arrived first."""
    order = [s.id for s in STEPS]
    reached = [i for i, sid in enumerate(order) if view.steps[sid].status != StepStatus.NOT_STARTED]
    if not reached:
        return
    for sid in order[: max(reached)]:
        step = view.steps[sid]
        if step.status in (StepStatus.NOT_STARTED, StepStatus.IN_PROGRESS):
            step.status, step.progress = StepStatus.COMPLETE, 100


def run_status(view: RunView) -> OfferStatus:
    statuses = {s.status for s in view.steps.values()}
    if StepStatus.FAILED in statuses:
        return OfferStatus.FAILED
    if view.steps[StepId.SIGNOFF].status == StepStatus.CANCELED:
        return OfferStatus.CANCELED
    if view.steps[StepId.LIVE].status == StepStatus.COMPLETE:
        return OfferStatus.SUCCEEDED
    if view.steps[StepId.SIGNOFF].status == StepStatus.WAITING_FOR_PUBLISHER_REVIEW:
        return OfferStatus.WAITING_FOR_PUBLISHER_REVIEW
    return OfferStatus.RUNNING
