"""What a stage says when it gives up on an input: the run ends ``failed`` instead of hanging forever.

The Dispatcher decides *that* it gives up (a deterministic error, retries exhausted, a payload that does not
decode, the step's time limit); each stage declares *what* it emits then with :func:`stage_failures`, a map
from the input event types it handles to its failure event. Non-stage services pass no factory and only
dead-letter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from offerflow_contract.envelope import Envelope, Event
from offerflow_contract.events.base import Reason, StageFailed
from offerflow_contract.steps import StepId, step_info

INTERNAL_ERROR = "internal-error"
STEP_TIMED_OUT = "step-timed-out"
AFTERWARDS = "Choose Publish again to retry; if it happens again, open a support request from the failed step."


@dataclass(frozen=True)
class GaveUp:
    """Why the runtime gave up on one input, and where ops find it (``<dlq> <- <topic>[partition]@offset``)."""

    code: str
    dead_letter: str
    limit_seconds: float | None = None


FailureFactory = Callable[[Envelope, GaveUp], Event | None]


def duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return f"{hours} hour" + ("s" if hours != 1 else "")
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute" + ("s" if minutes != 1 else "")
    return f"{seconds:g} second" + ("s" if seconds != 1 else "")


def message(step: StepId, why: GaveUp) -> str:
    name = step_info(step).name
    if why.code == STEP_TIMED_OUT and why.limit_seconds is not None:
        what = (f"The {name} step did not finish within its time limit of {duration(why.limit_seconds)} "
                "and was stopped.")
    else:
        what = f"The {name} step could not be completed because of an internal error."
    return f"{what} The problem is on our side, not in your offer. {AFTERWARDS}"


def notification_emails(payload: Mapping[str, Any]) -> list[str]:
    """The publisher's addresses from an input payload that may not decode (read leniently, never raises)."""
    found: Any = payload.get("notification_emails")
    offer = payload.get("offer")
    if found is None and isinstance(offer, Mapping):
        found = offer.get("notification_emails")
    if not isinstance(found, list):
        return []
    # A NUL byte could not be stored by the read model: such an address is dropped, the failure still goes out.
    return [e for e in found if isinstance(e, str) and e.strip() and "\x00" not in e][:50]


def stage_failures(by_input: Mapping[str, type[StageFailed]]) -> FailureFactory:
    """A factory emitting ``by_input[event_type]`` for a given-up input; None for inputs not in the map."""
    table = dict(by_input)

    def failure(env: Envelope, why: GaveUp) -> Event | None:
        cls = table.get(env.event_type)
        if cls is None:
            return None
        text = message(StepId(cls.step), why)
        return cls(summary=text, reasons=[Reason(code=why.code, message=text)],
                   notification_emails=notification_emails(env.payload), dead_letter=why.dead_letter)

    return failure
