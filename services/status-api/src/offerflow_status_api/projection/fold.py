"""The fold of a run's events: ``apply`` adds one event to a run's state, ``view_of`` derives the view.

The view is the events applied one by one in key order (occurred_at, then event id); each event's effect below
is stated as that sequential rule, and ``state.py`` keeps what decides it in any arrival order. A redelivered
event changes nothing; an event with a payload that does not parse only counts for the run's last time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
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
    StagingFailed,
    StagingPassed,
    StepOverdue,
    StepTimedOut,
)
from offerflow_contract.steps import STEP_INDEX, STEPS, StepId, StepStatus
from offerflow_status_api import staging_report, supervisor
from offerflow_status_api.projection.state import Key, Note, RunState, StepState, latest, step_state, union
from offerflow_status_api.projection.view import (
    TERMINAL,
    Message,
    RunView,
    StepView,
    infer_earlier_steps_complete,
    run_status,
)

_IN_PROGRESS, _FAILED, _COMPLETE = StepStatus.IN_PROGRESS.value, StepStatus.FAILED.value, StepStatus.COMPLETE.value


def at_text(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def new_state(env: Envelope) -> RunState:
    """The state of ``env``'s run before any event."""
    return RunState(run_id=env.run_id or "", offer_id=env.offer_id, publisher_id=env.publisher_id)


def apply(state: RunState, env: Envelope, event: Event | None = None) -> RunState:
    """``state`` with ``env`` folded in (``event`` is its payload when the caller has parsed it already)."""
    key = (at_text(env.occurred_at), str(env.event_id))
    changes: dict[str, Any] = {"last_at": key[0]} if key[0] > state.last_at else {}
    if event is None:
        try:
            event = env.event()
        except ContractError:
            # Archived for the record; a bad payload cannot change the view, only the run's last time.
            return state.updated(changes) if changes else state
    fields, steps = _change(key, event)
    for name, value in fields.items():
        changes[name] = _JOIN[name](getattr(state, name), value)
    if steps:
        joined = list(state.steps)
        for step_id, step in steps.items():
            joined[STEP_INDEX[step_id]] = joined[STEP_INDEX[step_id]].join(step)
        changes["steps"] = tuple(joined)
    return state.updated(changes) if changes else state


def _either(a: bool, b: bool) -> bool:
    return a or b


# How each run-level field joins (the same rules as ``RunState.join``).
_JOIN: dict[str, Callable[[Any, Any], Any]] = {
    "request": latest, "go_live": _either, "cancel_requested": _either, "preview_ready": _either,
    "preview_withdrawn": _either, "preview_links": latest, "live_links": latest, "audiences": union,
}


# Built once: a union written inside the isinstance call is built again on every call (a third of ``apply``).
_STAGE_EVENT = StageStarted | StageProgressed | StagePassed | StageFailed


def _change(key: Key, ev: Event) -> tuple[dict[str, Any], dict[StepId, StepState]]:
    """What ``ev`` alone contributes: run-level fields and step states (joined onto the run's by ``apply``)."""
    steps: dict[StepId, StepState] = {}
    fields: dict[str, Any] = {}
    if isinstance(ev, _STAGE_EVENT):  # first: most events are a stage's
        steps[ev.step] = _stage(key, ev)
    elif isinstance(ev, PublishRequested):
        fields["request"] = (key, ev.offer.offer_version, tuple(ev.offer.notification_emails))
    elif isinstance(ev, StepOverdue):
        steps[ev.step] = StepState(notes=(Note(key, 0, "warning", supervisor.overdue_text(ev), code="stepOverdue"),))
    elif isinstance(ev, StepTimedOut):
        steps[ev.step] = _failed(key, ev.summary, ev.reasons)
    elif isinstance(ev, PreviewReady):
        # Sets the sign-off's start; starts it waiting for the publisher; shows the links unless withdrawn.
        fields.update(preview_ready=True, preview_links=(key, tuple(ev.preview_links)))
        text = "Your preview is ready: " + ", ".join(ev.preview_links)
        steps[StepId.SIGNOFF] = StepState(first_change=(key, StepStatus.WAITING_FOR_PUBLISHER_REVIEW.value, False),
                                          preview=key, notes=(Note(key, 0, "information", text),))
    elif isinstance(ev, GoLiveRequested):
        # Sign-off complete (100 %); live starts, and takes this time as its start, if nothing moved it yet.
        fields["go_live"] = True
        steps[StepId.SIGNOFF] = StepState(first_change=(key, "", False), first_set=key,
                                          last_set=(key, _COMPLETE), done=True, finished=key)
        steps[StepId.LIVE] = StepState(first_change=(key, _IN_PROGRESS, True))
    elif isinstance(ev, OfferWentLive):
        fields["live_links"] = (key, tuple(ev.live_links))
        steps[StepId.LIVE] = StepState(first_change=(key, "", False), first_set=key, last_set=(key, _COMPLETE),
                                       done=True, finished=key, stage_start=key)
    elif isinstance(ev, CancelRequested):
        fields["cancel_requested"] = True
    elif isinstance(ev, PublishCanceled):
        steps[StepId.SIGNOFF] = StepState(first_change=(key, "", False), first_set=key,
                                          last_set=(key, StepStatus.CANCELED.value), finished=key,
                                          notes=(Note(key, 0, "information", ev.reason),))
    elif isinstance(ev, PreviewWithdrawn):
        fields["preview_withdrawn"] = True
    elif isinstance(ev, PreviewAudienceChanged):
        fields["audiences"] = (tuple(sorted({s.lower() for s in ev.audience})),)
    return fields, steps


def _stage(key: Key, ev: StageStarted | StageProgressed | StagePassed | StageFailed) -> StepState:
    # Every stage event starts the step's clock if it has none yet.
    if isinstance(ev, StageStarted):
        notes: tuple[Note, ...] = (Note(key, 0, "information", ev.message),) if ev.message else ()
        return step_state(first_change=(key, _IN_PROGRESS, False), stage_start=key, notes=notes)
    if isinstance(ev, StageProgressed):
        # Starts the step; raises the progress only while the step is in progress.
        return step_state(first_change=(key, _IN_PROGRESS, False), stage_start=key,
                         progress=((key, ev.percentage),), notes=(Note(key, 0, ev.level, ev.message),))
    if isinstance(ev, StagePassed):
        # Complete unless failed; 100 % either way.
        notes = tuple(Note(key, i, "warning", r.message, r.field, r.code) for i, r in enumerate(ev.warnings))
        if isinstance(ev, StagingPassed):  # what each plan's boot showed, after the warnings
            notes += tuple(Note(key, len(notes) + i, "information", f"{r.plan_id}: {r.summary}", code="stagingSummary")
                           for i, r in enumerate(ev.reports))
        return step_state(first_change=(key, "", False), last_pass=key, done=True, finished=key, stage_start=key,
                         notes=notes, details=_details(key, ev))
    return replace(_failed(key, ev.summary, ev.reasons), stage_start=key, details=_details(key, ev))


def _details(key: Key, ev: StagePassed | StageFailed) -> tuple[Key, str] | None:
    """The outcome's details the status shows on its step: staging's checks per plan."""
    if isinstance(ev, StagingPassed | StagingFailed) and ev.reports:
        return (key, staging_report.step_details(ev.reports))
    return None


def _failed(key: Key, summary: str, reasons: Iterable[object]) -> StepState:
    notes = [Note(key, 0, "error", summary, None, "stepFailed")]
    notes += [Note(key, i, r.level, r.message, r.field, r.code)  # type: ignore[attr-defined]
              for i, r in enumerate(reasons, start=1)]
    return StepState(first_change=(key, "", False), first_set=key, last_set=(key, _FAILED), finished=key,
                     notes=tuple(notes))


# --- the view ----------------------------------------------------------------------------------------------------

def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _step_view(step_id: StepId, s: StepState) -> StepView:
    view = StepView(step_id)
    first = s.first_change
    if s.last_set is not None:
        set_key, value = s.last_set
        # A pass after the last set completes the step, unless that set failed it.
        late_pass = s.last_pass is not None and s.last_pass > set_key and value != _FAILED
        view.status = StepStatus(_COMPLETE if late_pass else value)
    elif s.last_pass is not None:
        view.status = StepStatus.COMPLETE
    elif first is not None:
        view.status = StepStatus(first[1])  # only starts moved it: the first one did
    if s.done:
        view.progress = 100
    elif first is not None and first[1] == _IN_PROGRESS:
        # A report counts if the step was in progress when it came: no set before it, started in progress.
        view.progress = max((p for k, p in s.progress if s.first_set is None or k < s.first_set), default=0)
    view.messages = [Message(n.level, n.text, _time(n.key[0]), n.field, n.code) for n in s.notes]
    if s.preview is not None:
        view.started_at = _time(s.preview[0])
    elif first is not None and first[2]:
        view.started_at = _time(first[0][0])
    elif s.stage_start is not None:
        view.started_at = _time(s.stage_start[0])
    if s.finished is not None:
        view.finished_at = _time(s.finished[0])
    if s.details is not None:
        view.details = json.loads(s.details[1])
    return view


def _subscription_of(link: str) -> str:
    return (parse_qs(urlsplit(link).query).get("subscriptionId") or [""])[0].lower()


def view_of(state: RunState) -> RunView:
    view = RunView(run_id=state.run_id, offer_id=state.offer_id, publisher_id=state.publisher_id)
    if state.request is not None:
        key, version, emails = state.request
        view.requested, view.requested_at = True, _time(key[0])
        view.offer_version, view.notification_emails = version, list(emails)
    view.steps = {s.id: _step_view(s.id, step) for s, step in zip(STEPS, state.steps, strict=True)}
    view.submission_type = "goLive" if state.go_live else "publish"
    view.cancellation_requested = state.cancel_requested
    view.preview_ready, view.preview_withdrawn = state.preview_ready, state.preview_withdrawn
    view.preview_audiences = [frozenset(a) for a in state.audiences]
    if state.live_links is not None:
        view.live_links = list(state.live_links[1])
    if state.preview_links is not None and not state.preview_withdrawn:
        # A subscription taken off the audience while the preview was open lost its link for good.
        view.preview_links = [link for link in state.preview_links[1]
                              if all(_subscription_of(link) in a for a in view.preview_audiences)]
    infer_earlier_steps_complete(view)
    view.status = run_status(view)
    if view.status in TERMINAL:
        view.finished_at = _time(state.last_at)
    return view


def fold_state(run_id: str, envelopes: Iterable[Envelope]) -> RunState | None:
    state: RunState | None = None
    for env in envelopes:
        state = apply(state or RunState(run_id, env.offer_id, env.publisher_id), env)
    return state


def fold_run(run_id: str, envelopes: list[Envelope]) -> RunView:
    """The view of a run's events, in any order (the same as applying them one by one)."""
    state = fold_state(run_id, envelopes)
    assert state is not None, "a run has at least one event"
    return view_of(state)

