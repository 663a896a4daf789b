"""One function per event; the dict at the bottom is what the agent dispatches on."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from offerflow_provisioning import rules
from offerflow_provisioning.replicator import Replicator
from offerflow_shared.envelope import Envelope
from offerflow_shared.events import (
    CertificationPassed,
    ProvisioningFailed,
    ProvisioningPassed,
    ProvisioningProgressed,
    ProvisioningStarted,
    Reason,
)
from offerflow_shared.runtime import Handler, Outbox, handles


async def on_certification_passed(
    env: Envelope, event: CertificationPassed, out: Outbox, *, replicator: Replicator, regions: Sequence[str]
) -> None:
    emails = event.offer.notification_emails
    try:
        jobs = rules.plan_copies(env.publisher_id, env.offer_id, regions, event.disks)
    except rules.UnsafeName as exc:
        reason = Reason(code="invalid-name", message=str(exc))
        await out.emit(
            ProvisioningFailed(summary=reason.message, reasons=[reason], notification_emails=emails)
        )
        return
    if not jobs:
        reason = Reason(
            code="no-disks", message="Certification passed no disks, so there is nothing to replicate."
        )
        await out.emit(
            ProvisioningFailed(summary=reason.message, reasons=[reason], notification_emails=emails)
        )
        return
    await out.emit(ProvisioningStarted(message=rules.start_message(jobs)))

    async def progress(i: int) -> None:
        await out.emit(
            ProvisioningProgressed(
                percentage=rules.percentage(i + 1, len(jobs)), message=rules.progress_message(jobs, i)
            ),
            discriminator=jobs[i].key.id,
        )

    result = await replicator.replicate(jobs, progress)
    if result.reasons:
        await out.emit(
            ProvisioningFailed(
                summary=rules.summary(result.reasons), reasons=result.reasons, notification_emails=emails
            )
        )
    else:
        await out.emit(ProvisioningPassed(offer=event.offer, disks=event.disks, replicas=result.replicas))


def build_handlers(replicator: Replicator, regions: Sequence[str]) -> dict[str, Handler]:
    return dict(
        [
            handles(
                CertificationPassed,
                partial(on_certification_passed, replicator=replicator, regions=list(regions)),
            ),
        ]
    )
