"""One function per event; the dict at the bottom is what the agent dispatches on."""

from __future__ import annotations

from offerflow_shared.envelope import Envelope
from offerflow_shared.events import PublishRequested, ValidationFailed, ValidationPassed, ValidationStarted
from offerflow_shared.runtime import Handler, Outbox, handles

from offerflow_validation import rules


async def on_publish_requested(env: Envelope, event: PublishRequested, out: Outbox) -> None:
    await out.emit(ValidationStarted(message="Checking the offer's required fields."))
    problems = rules.check(event.offer.definition)
    errors = [p for p in problems if p.level == "error"]
    if errors:
        await out.emit(ValidationFailed(summary=rules.summary(errors), reasons=problems,
                                        notification_emails=event.offer.notification_emails))
    else:
        await out.emit(ValidationPassed(offer=event.offer, warnings=problems))


def build_handlers() -> dict[str, Handler]:
    return dict([handles(PublishRequested, on_publish_requested)])
