"""One function per event; the dict at the bottom is what the agent dispatches on."""

from __future__ import annotations

from functools import partial

from offerflow_shared.envelope import Envelope
from offerflow_shared.events import (
    CertificationFailed,
    CertificationPassed,
    CertificationProgressed,
    CertificationStarted,
    CertifiedDisk,
    Reason,
    ValidationPassed,
)
from offerflow_shared.offer import disks
from offerflow_shared.runtime import Handler, Outbox, handles

from offerflow_certification import rules
from offerflow_certification.adapters.source import DiskSource
from offerflow_certification.image.findings import ImageError


async def on_validation_passed(source: DiskSource, env: Envelope, event: ValidationPassed, out: Outbox) -> None:
    refs = list(disks(event.offer.definition))
    await out.emit(CertificationStarted(message=f"Testing {len(refs)} disk image(s)."))
    reasons: list[Reason] = []
    certified: list[CertifiedDisk] = []
    for i, ref in enumerate(refs):
        try:
            result = await source.inspect(ref.url)
        except ImageError as exc:
            reasons.append(rules.unreadable(ref, exc.message))
        else:
            failed = rules.reasons_for(ref, result.findings)
            reasons += failed
            if not failed:
                certified.append(CertifiedDisk(plan_id=ref.plan_id, image_version=ref.image_version,
                                               disk=ref.disk, url=ref.url, sha256=result.sha256,
                                               size_bytes=result.size_bytes))
        await out.emit(
            CertificationProgressed(percentage=rules.percentage(i + 1, len(refs)),
                                    message=f"Tested {ref.plan_id}/{ref.image_version}/{ref.disk}"),
            discriminator=str(i))
    if reasons:
        await out.emit(CertificationFailed(summary=rules.summary(reasons), reasons=reasons,
                                           notification_emails=event.offer.notification_emails))
    else:
        await out.emit(CertificationPassed(offer=event.offer, disks=certified))


def build_handlers(source: DiskSource) -> dict[str, Handler]:
    return dict([handles(ValidationPassed, partial(on_validation_passed, source))])
