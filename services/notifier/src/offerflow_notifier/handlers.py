"""One function per event; the dict at the bottom is what the agent dispatches on."""

from __future__ import annotations

from offerflow_notifier import rules
from offerflow_notifier.delivery import Notifier
from offerflow_shared.envelope import Envelope
from offerflow_shared.events import (
    CertificationFailed,
    GoLiveFailed,
    OfferWentLive,
    PackagingFailed,
    PreviewReady,
    ProvisioningFailed,
    PublishCanceled,
    PublishRequested,
    StageFailed,
    StepTimedOut,
    SupportRequestOpened,
    ValidationFailed,
)
from offerflow_shared.runtime import Handler, Outbox, handles

FAILURES: tuple[type[StageFailed], ...] = (
    ValidationFailed,
    CertificationFailed,
    ProvisioningFailed,
    PackagingFailed,
    GoLiveFailed,
)


def build_handlers(notifier: Notifier) -> dict[str, Handler]:
    url = notifier.public_url

    async def on_publish_requested(env: Envelope, event: PublishRequested, out: Outbox) -> None:
        await notifier.deliver(env, rules.publish_accepted(env, event, url), out)

    async def on_stage_failed(env: Envelope, event: StageFailed | StepTimedOut, out: Outbox) -> None:
        await notifier.deliver(env, rules.step_failed(env, event, url), out)

    async def on_preview_ready(env: Envelope, event: PreviewReady, out: Outbox) -> None:
        await notifier.deliver(env, rules.preview_ready(env, event, url), out)

    async def on_went_live(env: Envelope, event: OfferWentLive, out: Outbox) -> None:
        await notifier.deliver(env, rules.went_live(env, event, url), out)

    async def on_canceled(env: Envelope, event: PublishCanceled, out: Outbox) -> None:
        await notifier.deliver(env, rules.canceled(env, event, url), out)

    async def on_support_requested(env: Envelope, event: SupportRequestOpened, out: Outbox) -> None:
        await notifier.deliver(env, rules.support_requested(env, event, url), out)

    pairs = [
        handles(SupportRequestOpened, on_support_requested),
        handles(PublishRequested, on_publish_requested),
        handles(PreviewReady, on_preview_ready),
        handles(OfferWentLive, on_went_live),
        handles(PublishCanceled, on_canceled),
        *(handles(cls, on_stage_failed) for cls in FAILURES),
        handles(StepTimedOut, on_stage_failed),  # the supervisor ended a step: mailed like a stage's failure
    ]
    return dict(pairs)
