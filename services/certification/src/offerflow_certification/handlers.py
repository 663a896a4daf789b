"""One function per event, each taking the service's ``Deps`` first; ``HANDLERS`` at the bottom is the table the
runtime dispatches on."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from offerflow_certification import report, rules
from offerflow_certification.adapters.source import DiskSource
from offerflow_certification.adapters.store import ReportStore
from offerflow_certification.image.certifier import CERTIFIER_VERSION, Profile
from offerflow_certification.image.findings import ImageError
from offerflow_contract.envelope import Envelope
from offerflow_contract.events import (
    CertificationFailed,
    CertificationPassed,
    CertificationProgressed,
    CertificationStarted,
    CertifiedDisk,
    DiskReport,
    Reason,
    ValidationPassed,
)
from offerflow_shared.offer import DiskRef, disks
from offerflow_shared.outbox import Outbox
from offerflow_shared.service import Handlers

PHASES = 3  # read+hash, format tests, OS tests


@dataclass(frozen=True)
class Deps:
    source: DiskSource
    store: ReportStore


class _Progress:
    def __init__(self, out: Outbox, disks_total: int) -> None:
        self.out, self.total = out, disks_total * PHASES

    async def step(self, index: int, phase: int, message: str) -> None:
        await self.out.emit(CertificationProgressed(
            percentage=rules.percentage(index * PHASES + phase, self.total), message=message),
            discriminator=f"{index}.{phase}")


async def _certify(deps: Deps, env: Envelope, ref: DiskRef, profile: Profile, i: int,
                   progress: _Progress) -> DiskReport:
    disk = report.DiskId(ref.plan_id, ref.image_version, ref.disk, ref.url)
    where = rules.where(ref)
    try:
        async with deps.source.fetch(ref.url, env.publisher_id) as image:
            await progress.step(i, 1, f"Read {where}: {image.size} bytes, SHA-256 {image.sha256}")
            # Only this publisher's own reports are reused (the store's key starts with the publisher), so the
            # run named below is always one of theirs. Within one run (a redelivered event) the tests are simply
            # run again: same bytes, same result.
            stored = await deps.store.find(env.publisher_id, image.sha256, CERTIFIER_VERSION, profile.key)
            if stored is not None and stored.run_id != env.run_id:
                await progress.step(i, PHASES, f"Reused report of run {stored.run_id} for {where}: same SHA-256 "
                                                f"and certifier {CERTIFIER_VERSION}, not tested again")
                return report.reused(disk, stored.report, stored.run_id)
            findings = await asyncio.to_thread(report.run_format, image, profile)
            await progress.step(i, 2, f"Disk format tests done on {where}")
            os_result = await asyncio.to_thread(report.run_os, image, profile)
            await progress.step(i, PHASES, f"{len(findings) + len(os_result.findings)} tests done on {where}")
            return report.build(disk, image, findings, os_result)
    except ImageError as exc:
        await progress.step(i, PHASES, f"Cannot read the image of {where}")
        return report.unreadable(disk, exc.message)


async def on_validation_passed(deps: Deps, env: Envelope, event: ValidationPassed, out: Outbox) -> None:
    definition = event.offer.definition
    refs = list(disks(definition))
    await out.emit(CertificationStarted(message=f"Testing {len(refs)} disk image(s)."))
    progress = _Progress(out, len(refs))
    errors: list[Reason] = []
    warnings: list[Reason] = []
    reports: list[DiskReport] = []
    certified: list[CertifiedDisk] = []
    for i, ref in enumerate(refs):
        profile = rules.profile_for(ref, definition)
        disk_report = await _certify(deps, env, ref, profile, i, progress)
        await deps.store.save(publisher_id=env.publisher_id, offer_id=env.offer_id,
                              run_id=env.run_id or str(env.event_id), profile=profile.key, report=disk_report)
        reports.append(disk_report)
        failed, warned = rules.reasons_for(ref, disk_report)
        errors += failed
        warnings += warned
        if disk_report.test_result == "Pass" and disk_report.sha256 is not None:
            certified.append(CertifiedDisk(plan_id=ref.plan_id, image_version=ref.image_version, disk=ref.disk,
                                           url=ref.url, sha256=disk_report.sha256,
                                           size_bytes=disk_report.size_bytes or 0))
    if errors:
        await out.emit(CertificationFailed(summary=rules.summary(errors), reasons=errors + warnings,
                                           notification_emails=event.offer.notification_emails, reports=reports))
    else:
        await out.emit(CertificationPassed(offer=event.offer, disks=certified, warnings=warnings, reports=reports))


HANDLERS: Handlers[Deps] = {ValidationPassed: on_validation_passed}
