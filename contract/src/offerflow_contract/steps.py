"""The publishing steps, in order: the six the original API had, with its ids, and staging (ours), between
provisioning and packaging: the preview is only offered once a replica really booted."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class StepId(StrEnum):
    VALIDATION = "displaydummycertify"
    CERTIFICATION = "displaycertify"
    PROVISIONING = "displayprovision"
    STAGING = "displaystaging"
    PACKAGING = "displaypackage"
    SIGNOFF = "publisher-signoff"
    LIVE = "live"


class StepStatus(StrEnum):
    """Canonical step states. The reference's other spellings map onto these (see status-api README)."""

    NOT_STARTED = "notStarted"
    IN_PROGRESS = "inProgress"
    WAITING_FOR_PUBLISHER_REVIEW = "waitingForPublisherReview"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELED = "canceled"


class OfferStatus(StrEnum):
    NEVER_PUBLISHED = "neverPublished"
    NOT_STARTED = "notStarted"
    RUNNING = "running"
    WAITING_FOR_PUBLISHER_REVIEW = "waitingForPublisherReview"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


@dataclass(frozen=True)
class StepInfo:
    id: StepId
    name: str
    description: str
    eta: str
    next_steps: str


STEPS: tuple[StepInfo, ...] = (
    StepInfo(
        StepId.VALIDATION,
        "Validate Pre-Requisites",
        "Checks that every required field of the offer is filled in and well formed.",
        "<15 min",
        "Fix the fields listed in the message (the editor shows a warning next to each), then Publish again.",
    ),
    StepInfo(
        StepId.CERTIFICATION,
        "Certification",
        "Tests that the VM images meet the certification requirements.",
        "<1 hour",
        "Fix the image so the failed tests pass (run `offerflow certify IMAGE` locally), then Publish again.",
    ),
    StepInfo(
        StepId.PROVISIONING,
        "Provisioning",
        "Replicates the images to every region.",
        "<1 day",
        "Check that the image is still readable and unchanged since certification, then Publish again.",
    ),
    StepInfo(
        StepId.STAGING,
        "Staging deployment",
        "Boots one replica of each plan in a staging VM: boot loader, kernel, root file system, init, SSH, "
        "provisioning agent.",
        "<30 min",
        "Read the failed check and the console log (Status tab, or `offerflow stage IMAGE` locally), fix the image, "
        "then Publish again.",
    ),
    StepInfo(
        StepId.PACKAGING,
        "Packaging and Lead Generation Registration",
        "Merges technical and marketing content into the product page and sends a test lead.",
        "<1 hour",
        "Check the marketplace content and the lead destination settings, then Publish again.",
    ),
    StepInfo(
        StepId.SIGNOFF,
        "Publisher signoff",
        "The preview is available to the whitelisted subscriptions; choose Go live when it looks right.",
        "<1 hour",
        "Review the preview, then choose Go live or Cancel publication.",
    ),
    StepInfo(
        StepId.LIVE,
        "Live",
        "The offer is promoted to production and listed for every customer.",
        "<1 hour",
        "Publish again; if it keeps failing, open a support request.",
    ),
)

STEP_INDEX: dict[StepId, int] = {s.id: i for i, s in enumerate(STEPS)}


def step_info(step: StepId) -> StepInfo:
    return STEPS[STEP_INDEX[step]]
