"""Pure command rules: whether Publish, Go live or Cancel may act on an offer's command-side state. No I/O."""

from __future__ import annotations

from dataclasses import dataclass

from offerflow_contract.envelope import Event
from offerflow_contract.events import OfferWentLive, PreviewReady, StageFailed, StepTimedOut
from offerflow_status_api.commands.state import OfferState, RunPhase, SignOff


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str
    retryable: bool = False


_SIGNOFF_NAMES = {SignOff.GO_LIVE: "Go live", SignOff.CANCEL: "Cancel"}
_PHASE_WORDS = {
    RunPhase.RUNNING: "is still running",
    RunPhase.SIGNOFF: "waits for publisher sign-off (Go live or Cancel it first)",
    RunPhase.GOLIVE: "is going live",
}


def can_publish(state: OfferState) -> Refusal | None:
    if state.run_id is None or state.run_phase in (None, RunPhase.ENDED):
        return None
    return Refusal("OperationInProgress", f"Operation {state.run_id} {_PHASE_WORDS[state.run_phase]}.",
                   retryable=state.run_phase != RunPhase.SIGNOFF)


def can_go_live(state: OfferState) -> Refusal | None:
    return _sign_off_refusal(state, SignOff.GO_LIVE)


def cancel_is_repeat(state: OfferState) -> bool:
    """A second Cancel of the run that was canceled answers like the first: Cancel is idempotent."""
    return state.run_id is not None and state.signoff == SignOff.CANCEL


def can_cancel(state: OfferState) -> Refusal | None:
    if cancel_is_repeat(state):
        return None
    return _sign_off_refusal(state, SignOff.CANCEL)


def _sign_off_refusal(state: OfferState, choice: SignOff) -> Refusal | None:
    action = _SIGNOFF_NAMES[choice]
    if state.run_id is None:
        return Refusal("InvalidState",
                       f"{action} is only possible at publisher sign-off; the offer was never published.")
    if state.signoff is not None:
        # The sign-off decision is recorded once per run; the second one names the first.
        return Refusal("SignOffDecided", f"Operation {state.run_id} was already signed off with "
                       f"{_SIGNOFF_NAMES[state.signoff]}; {action} is not possible.")
    if state.run_phase != RunPhase.SIGNOFF:
        where = _PHASE_WORDS.get(state.run_phase, f"has ended ({state.run_outcome or 'finished'})") \
            if state.run_phase is not None else "has ended"
        return Refusal("InvalidState", f"{action} is only possible while the offer waits for publisher sign-off; "
                       f"operation {state.run_id} {where}.")
    return None


def after_stage_event(state: OfferState | None, run_id: str | None, event: Event) -> OfferState | None:
    """Where a stage's outcome leaves the offer's current run; None when it changes nothing.

    Only the current run moves, and only forward: a redelivered or late event of an older run is a no-op.
    """
    if state is None or run_id is None or run_id != state.run_id or state.run_phase == RunPhase.ENDED:
        return None
    if isinstance(event, StageFailed | StepTimedOut):  # any step, go-live included
        return state.replace(run_phase=RunPhase.ENDED, run_outcome="failed")
    if isinstance(event, PreviewReady) and state.run_phase == RunPhase.RUNNING:
        return state.replace(run_phase=RunPhase.SIGNOFF)
    if isinstance(event, OfferWentLive):
        return state.replace(run_phase=RunPhase.ENDED, run_outcome="succeeded", live_definition=state.run_definition)
    return None
