"""One function per event, each taking the service's ``Deps`` first; ``HANDLERS`` at the bottom is the table the
runtime dispatches on."""

from __future__ import annotations

from offerflow_contract.envelope import Envelope
from offerflow_contract.events import (
    CertificationFailed,
    GoLiveFailed,
    OfferWentLive,
    PackagingFailed,
    PreviewReady,
    ProvisioningFailed,
    PublishCanceled,
    PublishRequested,
    StageFailed,
    StagingFailed,
    StepTimedOut,
    SupportRequestAnswered,
    SupportRequestClosed,
    SupportRequestOpened,
    SupportRequestReplied,
    ValidationFailed,
)
from offerflow_notifier import rules, support_mail
from offerflow_notifier.delivery import Notifier
from offerflow_shared.outbox import Outbox
from offerflow_shared.service import Handlers

FAILURES: tuple[type[StageFailed], ...] = (
    ValidationFailed,
    CertificationFailed,
    ProvisioningFailed,
    StagingFailed,
    PackagingFailed,
    GoLiveFailed,
)


# The notifier's one dependency is the delivery itself (mailer, sent-mail ledger, sender, portal URL).
Deps = Notifier


async def on_publish_requested(deps: Deps, env: Envelope, event: PublishRequested, out: Outbox) -> None:
    await deps.deliver(env, rules.publish_accepted(env, event, deps.public_url), out)


async def on_stage_failed(deps: Deps, env: Envelope, event: StageFailed | StepTimedOut, out: Outbox) -> None:
    await deps.deliver(env, rules.step_failed(env, event, deps.public_url), out)


async def on_preview_ready(deps: Deps, env: Envelope, event: PreviewReady, out: Outbox) -> None:
    await deps.deliver(env, rules.preview_ready(env, event, deps.public_url), out)


async def on_went_live(deps: Deps, env: Envelope, event: OfferWentLive, out: Outbox) -> None:
    await deps.deliver(env, rules.went_live(env, event, deps.public_url), out)


async def on_canceled(deps: Deps, env: Envelope, event: PublishCanceled, out: Outbox) -> None:
    await deps.deliver(env, rules.canceled(env, event, deps.public_url), out)


async def on_support_requested(deps: Deps, env: Envelope, event: SupportRequestOpened, out: Outbox) -> None:
    await deps.deliver(env, rules.support_requested(env, event, deps.public_url), out)
    # The same event tells the support desk (another recipient: its own line in the ledger).
    await deps.deliver(env, support_mail.desk_opened(env, event, deps.public_url, deps.support_address), out)


async def on_support_replied(deps: Deps, env: Envelope, event: SupportRequestReplied, out: Outbox) -> None:
    await deps.deliver(env, support_mail.desk_replied(env, event, deps.public_url, deps.support_address),
                       out)


async def on_support_answered(deps: Deps, env: Envelope, event: SupportRequestAnswered, out: Outbox) -> None:
    await deps.deliver(env, support_mail.publisher_answered(env, event, deps.public_url), out)


async def on_support_closed(deps: Deps, env: Envelope, event: SupportRequestClosed, out: Outbox) -> None:
    await deps.deliver(env, support_mail.publisher_closed(env, event, deps.public_url), out)


HANDLERS: Handlers[Deps] = {
    SupportRequestOpened: on_support_requested,
    SupportRequestReplied: on_support_replied,
    SupportRequestAnswered: on_support_answered,
    SupportRequestClosed: on_support_closed,
    PublishRequested: on_publish_requested,
    PreviewReady: on_preview_ready,
    OfferWentLive: on_went_live,
    PublishCanceled: on_canceled,
    **{cls: on_stage_failed for cls in FAILURES},
    StepTimedOut: on_stage_failed,  # the supervisor ended a step: mailed like a stage's failure
}
