"""Commands the status-api accepted, recorded as facts on ``offerflow.publishing``."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from offerflow_contract.envelope import Event, register
from offerflow_contract.events.base import OfferSnapshot, Reason
from offerflow_contract.steps import StepId


@register
class OfferDraftSaved(Event):
    event_type = "offer.draft_saved"
    offer_type_id: str
    draft_version: int = Field(ge=1)
    etag: str
    definition: dict[str, Any]


@register
class PublishRequested(Event):
    """Publish was pressed: a new run starts at step 1 with this snapshot of the offer."""

    event_type = "offer.publish_requested"
    offer: OfferSnapshot
    requested_by: str


@register
class GoLiveRequested(Event):
    event_type = "offer.golive_requested"
    offer_version: int = Field(ge=1)
    notification_emails: list[str]
    requested_by: str


@register
class CancelRequested(Event):
    event_type = "offer.cancel_requested"
    requested_by: str


@register
class PublishCanceled(Event):
    """The run ended at sign-off by the publisher's choice; the offer returns to step 1."""

    event_type = "offer.publish_canceled"
    notification_emails: list[str]
    reason: str = "Canceled by the publisher at sign-off"


@register
class SupportRequestOpened(Event):
    """A publisher asked for help from a failed (or stuck) step; carries what support needs to act."""

    event_type = "offer.support_requested"
    request_id: str
    step: str
    title: str
    description: str
    messages: list[str]
    contact_emails: list[str]
    requested_by: str


@register
class StepOverdue(Event):
    """The supervisor saw a step run past twice its usual duration; it is still running."""

    event_type = "offer.step_overdue"
    step: StepId
    running_seconds: int = Field(ge=0)
    expected_seconds: int = Field(ge=0)


@register
class StepTimedOut(Event):
    """The supervisor ended a step that ran past its hard limit: the run has failed and Publish works again."""

    event_type = "offer.step_timed_out"
    step: StepId
    limit_seconds: int = Field(ge=0)
    # The same shape as a stage's failure, so it is shown and mailed like one.
    summary: str
    reasons: list[Reason] = Field(min_length=1)
    notification_emails: list[str]
