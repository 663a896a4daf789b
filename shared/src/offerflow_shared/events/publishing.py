"""Commands the status-api accepted, recorded as facts on ``offerflow.publishing``."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from offerflow_shared.envelope import Event, register
from offerflow_shared.events.base import OfferSnapshot


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
