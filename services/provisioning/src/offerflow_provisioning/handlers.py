"""One function per event, each taking the service's ``Deps`` first; ``HANDLERS`` at the bottom is the table the
runtime dispatches on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from offerflow_contract.envelope import Envelope
from offerflow_contract.events import (
    CertificationPassed,
    ProvisioningFailed,
    ProvisioningPassed,
    ProvisioningProgressed,
    ProvisioningStarted,
    Reason,
)
from offerflow_provisioning import rules
from offerflow_provisioning.replicator import Replicator
from offerflow_shared.names import UnsafeName
from offerflow_shared.outbox import Outbox
from offerflow_shared.service import Handlers


@dataclass(frozen=True)
class Deps:
    replicator: Replicator
    regions: Sequence[str]


async def on_certification_passed(deps: Deps, env: Envelope, event: CertificationPassed, out: Outbox) -> None:
    emails = event.offer.notification_emails
    try:
        jobs = rules.plan_copies(env.publisher_id, env.offer_id, deps.regions, event.disks)
    except UnsafeName as exc:
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

    async def progress(i: int, where: str) -> None:
        await out.emit(
            ProvisioningProgressed(
                percentage=rules.percentage(i + 1, len(jobs)), message=rules.progress_message(jobs, i, where)
            ),
            discriminator=jobs[i].key.id,
        )

    result = await deps.replicator.replicate(jobs, progress)
    if result.reasons:
        await out.emit(
            ProvisioningFailed(
                summary=rules.summary(result.reasons), reasons=result.reasons, notification_emails=emails
            )
        )
    else:
        await out.emit(ProvisioningPassed(offer=event.offer, disks=event.disks, replicas=result.replicas))


HANDLERS: Handlers[Deps] = {CertificationPassed: on_certification_passed}
