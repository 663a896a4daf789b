"""Packaging owns the product page slots, so it also opens the preview and promotes it to live."""

from __future__ import annotations

from pydantic import Field

from offerflow_contract.envelope import Event, register
from offerflow_contract.events.base import StageFailed, StagePassed, StageProgressed, StageStarted
from offerflow_contract.steps import StepId


@register
class PackagingStarted(StageStarted):
    event_type = "packaging.started"
    step = StepId.PACKAGING


@register
class PackagingProgressed(StageProgressed):
    event_type = "packaging.progressed"
    step = StepId.PACKAGING


@register
class PackagingPassed(StagePassed):
    event_type = "packaging.passed"
    step = StepId.PACKAGING
    preview_links: list[str]


@register
class PackagingFailed(StageFailed):
    event_type = "packaging.failed"
    step = StepId.PACKAGING


@register
class PreviewReady(Event):
    """The run now waits at publisher sign-off; only the audience can see the preview."""

    event_type = "offer.preview_ready"
    offer_version: int = Field(ge=1)
    # One link per whitelisted subscription, each a signed credential for that subscription alone
    # (``?subscriptionId=<guid>&access=<token>``): show each only to whom it is addressed; never rebuild one.
    preview_links: list[str]
    audience: list[str]
    notification_emails: list[str]


@register
class PreviewWithdrawn(Event):
    event_type = "offer.preview_withdrawn"
    reason: str


@register
class PreviewAudienceChanged(Event):
    """A draft saved while this run's preview is open changed its audience: subscriptions not in it lost their
    preview link for good (putting one back does not revive its link)."""

    event_type = "offer.preview_audience_changed"
    audience: list[str]


@register
class OfferWentLive(Event):
    event_type = "offer.went_live"
    offer_version: int = Field(ge=1)
    live_links: list[str]
    notification_emails: list[str]


@register
class GoLiveFailed(StageFailed):
    event_type = "offer.golive_failed"
    step = StepId.LIVE
