"""Pure decisions of the status projection and the command rules. No I/O.

The view of a run is a function of the *set* of its events, not of their arrival order: events from
different topics may arrive in any order, and a redelivered event changes nothing.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from offerflow_contract.envelope import ContractError, Envelope, Event
from offerflow_contract.events import (
    CancelRequested,
    GoLiveRequested,
    OfferWentLive,
    PreviewAudienceChanged,
    PreviewReady,
    PreviewWithdrawn,
    PublishCanceled,
    PublishRequested,
    StageFailed,
    StagePassed,
    StageProgressed,
    StageStarted,
    StepOverdue,
    StepTimedOut,
)
from offerflow_contract.steps import STEP_INDEX, STEPS, OfferStatus, StepId, StepStatus
from offerflow_status_api import supervisor

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


def _events(envelopes: list[Envelope]) -> list[tuple[Envelope, Event]]:
    out = []
    for env in sorted(envelopes, key=lambda e: (e.occurred_at, str(e.event_id))):
        try:
            out.append((env, env.event()))
        except ContractError:
            continue  # archived for the record; a bad payload cannot change the view
    return out


def fold_run(run_id: str, envelopes: list[Envelope]) -> RunView:
    first = envelopes[0]
    view = RunView(run_id=run_id, offer_id=first.offer_id, publisher_id=first.publisher_id)
    for env, ev in _events(envelopes):
        _apply(view, env, ev)
    # A subscription taken off the audience while the preview was open lost its link for good.
    view.preview_links = [link for link in view.preview_links
                          if all(_subscription_of(link) in audience for audience in view.preview_audiences)]
    _infer_earlier_steps_complete(view)
    view.status = _run_status(view)
    if view.status in TERMINAL and view.finished_at is None:
        view.finished_at = max(e.occurred_at for e in envelopes)
    return view


def _apply(view: RunView, env: Envelope, ev: Event) -> None:
    at = env.occurred_at
    if isinstance(ev, PublishRequested):
        view.requested = True
        view.requested_at = at
        view.offer_version = ev.offer.offer_version
        view.notification_emails = list(ev.offer.notification_emails)
        return
    if isinstance(ev, StageStarted | StageProgressed | StagePassed | StageFailed):
        step = view.steps[ev.step]
        step.started_at = min(step.started_at or at, at)
        if isinstance(ev, StageStarted):
            if step.status == StepStatus.NOT_STARTED:
                step.status = StepStatus.IN_PROGRESS
            if ev.message:
                step.messages.append(Message("information", ev.message, at))
        elif isinstance(ev, StageProgressed):
            if step.status == StepStatus.NOT_STARTED:
                step.status = StepStatus.IN_PROGRESS
            if step.status == StepStatus.IN_PROGRESS:
                step.progress = max(step.progress, ev.percentage)
            step.messages.append(Message(ev.level, ev.message, at))
        elif isinstance(ev, StagePassed):
            if step.status != StepStatus.FAILED:
                step.status = StepStatus.COMPLETE
            step.progress = 100
            step.finished_at = at
            step.messages += [Message("warning", r.message, at, r.field, r.code) for r in ev.warnings]
        else:
            step.status = StepStatus.FAILED
            step.finished_at = at
            step.messages.append(Message("error", ev.summary, at, None, "stepFailed"))
            step.messages += [Message(r.level, r.message, at, r.field, r.code) for r in ev.reasons]
        return
    if isinstance(ev, StepOverdue | StepTimedOut):
        _apply_supervision(view.steps[ev.step], ev, at)
        return
    signoff, live = view.steps[StepId.SIGNOFF], view.steps[StepId.LIVE]
    if isinstance(ev, PreviewReady):
        view.preview_ready = True
        if not view.preview_withdrawn:
            view.preview_links = list(ev.preview_links)
        signoff.started_at = at
        if signoff.status == StepStatus.NOT_STARTED:
            signoff.status = StepStatus.WAITING_FOR_PUBLISHER_REVIEW
        signoff.messages.append(Message("information", "Your preview is ready: " + ", ".join(ev.preview_links), at))
    elif isinstance(ev, GoLiveRequested):
        view.submission_type = "goLive"
        signoff.status, signoff.progress, signoff.finished_at = StepStatus.COMPLETE, 100, at
        if live.status == StepStatus.NOT_STARTED:
            live.status, live.started_at = StepStatus.IN_PROGRESS, at
    elif isinstance(ev, OfferWentLive):
        view.live_links = list(ev.live_links)
        live.status, live.progress, live.finished_at = StepStatus.COMPLETE, 100, at
        live.started_at = live.started_at or at
    elif isinstance(ev, CancelRequested):
        view.cancellation_requested = True
    elif isinstance(ev, PublishCanceled):
        signoff.status, signoff.finished_at = StepStatus.CANCELED, at
        signoff.messages.append(Message("information", ev.reason, at))
    elif isinstance(ev, PreviewWithdrawn):
        view.preview_withdrawn = True
        view.preview_links = []
    elif isinstance(ev, PreviewAudienceChanged):
        view.preview_audiences.append(frozenset(s.lower() for s in ev.audience))


def _subscription_of(link: str) -> str:
    return (parse_qs(urlsplit(link).query).get("subscriptionId") or [""])[0].lower()


def _apply_supervision(step: StepView, ev: StepOverdue | StepTimedOut, at: datetime) -> None:
    if isinstance(ev, StepOverdue):
        step.messages.append(Message("warning", supervisor.overdue_text(ev), at, code="stepOverdue"))
        return
    step.status, step.finished_at = StepStatus.FAILED, at
    step.messages.append(Message("error", ev.summary, at, None, "stepFailed"))
    step.messages += [Message(r.level, r.message, at, r.field, r.code) for r in ev.reasons]


def _infer_earlier_steps_complete(view: RunView) -> None:
    """A later step's activity proves every earlier step passed, whatever arrived first."""
    order = [s.id for s in STEPS]
    reached = [i for i, sid in enumerate(order) if view.steps[sid].status != StepStatus.NOT_STARTED]
    if not reached:
        return
    for sid in order[: max(reached)]:
        step = view.steps[sid]
        if step.status in (StepStatus.NOT_STARTED, StepStatus.IN_PROGRESS):
            step.status, step.progress = StepStatus.COMPLETE, 100


def _run_status(view: RunView) -> OfferStatus:
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


def status_document(run: RunView | None, *, emails: list[str] | None = None) -> dict[str, Any]:
    """The ``GET …/status`` body of the original API, steps always listed in order."""
    if run is None:
        return {
            "status": OfferStatus.NEVER_PUBLISHED.value,
            "messages": [],
            "steps": [StepView(s.id).to_api() for s in STEPS],
            "previewLinks": [],
            "liveLinks": [],
            "notificationEmails": ",".join(emails or []) or None,
        }
    failed = [s for s in run.steps.values() if s.status == StepStatus.FAILED]
    messages = [m.to_api() for m in failed[0].messages if m.level == "error"] if failed else []
    return {
        "status": run.status.value,
        "messages": messages,
        "steps": [run.steps[s.id].to_api() for s in STEPS],
        "previewLinks": run.preview_links,
        "liveLinks": run.live_links,
        "notificationEmails": ",".join(run.notification_emails) or None,
        "runId": run.run_id,
        "offerVersion": run.offer_version,
        "currentStep": run.current_step().id.value,
    }


def accepted_document(run_id: str, offer_id: str, publisher_id: str, offer_version: int) -> dict[str, Any]:
    """An operation the API accepted whose first event the projection has not read yet: running, at step 1."""
    view = RunView(run_id=run_id, offer_id=offer_id, publisher_id=publisher_id, offer_version=offer_version)
    return {**status_document(view), "cancellationRequestState": view.cancellation_request_state}
