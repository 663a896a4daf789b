"""``offerflow_step_seconds``: how long each finished step took, observed once when the projection first
reads the event that finishes it (a redelivered or replayed event is a duplicate and observes nothing)."""

from __future__ import annotations

from offerflow_contract.envelope import Event
from offerflow_contract.events import (
    GoLiveRequested,
    OfferWentLive,
    PublishCanceled,
    StageFailed,
    StagePassed,
)
from offerflow_contract.steps import StepId, StepStatus
from offerflow_status_api.projection.view import RunView


def finishes(event: Event) -> StepId | None:
    """The step ``event`` ends, if any."""
    if isinstance(event, StagePassed | StageFailed):
        return event.step
    if isinstance(event, GoLiveRequested | PublishCanceled):
        return StepId.SIGNOFF
    if isinstance(event, OfferWentLive):
        return StepId.LIVE
    return None


def finished_step(view: RunView, event: Event) -> tuple[str, str, float] | None:
    """(step, outcome, seconds) of the step ``event`` ended in ``view``; None if it cannot be timed."""
    step_id = finishes(event)
    if step_id is None:
        return None
    step = view.steps[step_id]
    done = (StepStatus.COMPLETE, StepStatus.FAILED, StepStatus.CANCELED)
    if step.status not in done or step.started_at is None or step.finished_at is None:
        return None
    return step_id.value, step.status.value, (step.finished_at - step.started_at).total_seconds()
