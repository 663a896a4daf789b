"""Pure command rules: whether Publish, Go live or Cancel may act on an offer's command-side state. No I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from offerflow_contract.envelope import Event
from offerflow_contract.events import OfferWentLive, PreviewReady, StageFailed, StepTimedOut
from offerflow_status_api.commands.state import OfferState, RunPhase, SignOff


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str
    retryable: bool = False


@dataclass(frozen=True)
class Quotas:
    """What one publisher may hold and start: decided on the command side, in the command's transaction."""

    max_offers: int = 100
    max_runs_per_hour: int = 30


RUN_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class QuotaRefusal(Refusal):
    retry_after: int | None = None  # seconds until the quota admits the command again; None: time does not help


def offer_quota(quotas: Quotas, offers: int) -> QuotaRefusal | None:
    """A new offer beyond the publisher's maximum is refused; waiting does not help (no Retry-After)."""
    if offers < quotas.max_offers:
        return None
    return QuotaRefusal("OfferQuotaExceeded", f"The publisher already has {offers} offers, the most allowed "
                        f"({quotas.max_offers}); update an existing offer or ask the operator for a higher quota.")


def run_quota(quotas: Quotas, starts: list[datetime], now: datetime) -> QuotaRefusal | None:
    """Publish beyond the publisher's runs in the last hour is refused until the oldest of them leaves the hour."""
    recent = sorted(t for t in starts if now - t < RUN_WINDOW)
    if len(recent) < quotas.max_runs_per_hour:
        return None
    # The run that must leave the window for one more to fit.
    frees_at = recent[len(recent) - quotas.max_runs_per_hour] + RUN_WINDOW
    wait = max(1, math.ceil((frees_at - now).total_seconds()))
    return QuotaRefusal("RunQuotaExceeded", f"The publisher started {len(recent)} publish runs in the last hour, "
                        f"the most allowed ({quotas.max_runs_per_hour}); retry in {wait} s.", retryable=True,
                        retry_after=wait)


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
