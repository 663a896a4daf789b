"""One function per event, each taking the service's ``Deps`` first; ``HANDLERS`` at the bottom is the table the
runtime dispatches on (``BOOTS`` for the provisioning topic, ``CONTROL`` for the publishing topic's agent)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from offerflow_contract.envelope import Envelope, Event
from offerflow_contract.events import (
    ProvisioningPassed,
    PublishCanceled,
    PublishRequested,
    Reason,
    StagingCheck,
    StagingFailed,
    StagingPassed,
    StagingProgressed,
    StagingReport,
    StagingStarted,
    StepTimedOut,
)
from offerflow_shared.outbox import Outbox
from offerflow_shared.service import Handlers
from offerflow_staging import rules_run
from offerflow_staging.adapters.replicas import ReplicaProblem, ReplicaSource
from offerflow_staging.adapters.results import Emitted, ResultStore, RunKey, StoredResult
from offerflow_staging.boots import Boots

log = logging.getLogger("offerflow.staging")

OnCheck = Callable[[StagingCheck], Awaitable[None]]


class Unbootable(Exception):
    """The replica is not a disk the VM can be given at all (unreadable, not a disk image)."""


class Booter(Protocol):
    async def boot_check(self, image: Path, *, plan_id: str, image_version: str, region: str, location: str,
                         on_check: OnCheck | None = None) -> StagingReport:
        """Boot ``image`` once and report each milestone; cancelling the call stops the VM."""
        ...


@dataclass(frozen=True)
class Deps:
    booter: Booter
    replicas: ReplicaSource
    results: ResultStore
    regions: Sequence[str]
    enforce: bool = True
    boots: Boots = field(default_factory=Boots)


class _Recorder:
    """Emits through the outbox and keeps what it emitted, so that a redelivery re-emits the same."""

    def __init__(self, out: Outbox) -> None:
        self.out = out
        self.emitted: list[Emitted] = []

    async def emit(self, event: Event, discriminator: str = "") -> None:
        await self.out.emit(event, discriminator=discriminator)
        self.emitted.append(Emitted(event, discriminator))


async def on_provisioning_passed(deps: Deps, env: Envelope, event: ProvisioningPassed, out: Outbox) -> None:
    key = RunKey(str(env.event_id), env.publisher_id, env.offer_id, env.run_id or str(env.event_id))
    stored = await deps.results.find(key.cause_event_id)
    if stored is not None:
        # A redelivery: the same events again (same ids, from the same cause), no second boot.
        for e in stored.events:
            await out.emit(e.event, discriminator=e.discriminator)
        return
    recorder = _Recorder(out)
    task = deps.boots.start(env.offer_id, key.run_id, _stage(deps, event, recorder))
    try:
        await task
    except asyncio.CancelledError:
        why = deps.boots.ended(env.offer_id, task)
        current = asyncio.current_task()
        if why is None or (current is not None and current.cancelling()):
            raise  # this handler itself is being cancelled (the step's time limit, shutdown)
        # The run ended while it booted: nothing more to say for it, and a redelivery must not boot it again.
        log.info("boot of run %s stopped (%s); the run emits nothing more", key.run_id, why)
        await deps.results.save(key, StoredResult("canceled", recorder.emitted))
        return
    finally:
        deps.boots.forget(env.offer_id, task)
    await deps.results.save(key, StoredResult("done", recorder.emitted))


async def _stage(deps: Deps, event: ProvisioningPassed, out: _Recorder) -> None:
    emails = event.offer.notification_emails
    chosen = rules_run.select(event.disks, event.replicas, deps.regions)
    problems = chosen.problems or ([] if chosen.targets else [Reason(
        code="no-os-disk", message="Provisioning passed no OS disk, so there is nothing to boot.")])
    if problems:
        await out.emit(StagingFailed(summary=rules_run.summary([], problems), reasons=problems,
                                     notification_emails=emails))
        return
    targets = chosen.targets
    await out.emit(StagingStarted(message=rules_run.start_message(targets)))
    total = len(targets) * len(rules_run.CHECKS)
    state = {"done": 0}
    reports: list[StagingReport] = []
    unusable: list[Reason] = []
    for i, target in enumerate(targets):

        async def on_check(check: StagingCheck, target: rules_run.Target = target, i: int = i) -> None:
            state["done"] += 1
            level = "information" if check.result in ("Passed", "NotRun") else (
                "error" if check.result == "Failed" and deps.enforce else "warning")
            await out.emit(StagingProgressed(percentage=rules_run.percentage(state["done"], total),
                                             message=rules_run.check_message(target, check), level=level),
                           discriminator=f"{i}.{state['done']}")

        try:
            async with deps.replicas.fetch(target.replica) as image:
                report = await deps.booter.boot_check(
                    image, plan_id=target.disk.plan_id, image_version=target.disk.image_version,
                    region=target.replica.region, location=target.replica.location, on_check=on_check)
        except ReplicaProblem as exc:
            # Not a question of bootability: the bytes are not what was certified (or cannot be had).
            reason = Reason(code=exc.code, message=exc.message)
            await out.emit(StagingFailed(summary=rules_run.summary([], [reason]), reasons=[reason],
                                         notification_emails=emails, reports=reports))
            return
        except Unbootable as exc:
            unusable.append(Reason(code="unusable-image", message=f"{target.label}: {exc}"))
        else:
            reports.append(report)
        state["done"] = (i + 1) * len(rules_run.CHECKS)
    await _finish(deps, event, out, reports, unusable)


async def _finish(deps: Deps, event: ProvisioningPassed, out: _Recorder, reports: list[StagingReport],
                  unusable: list[Reason]) -> None:
    failed = [r for r in reports if r.result == "Fail"]
    warnings = [w for r in reports for w in rules_run.warnings(r)]
    if failed or unusable:
        reasons = [x for r in failed for x in rules_run.failed_reasons(r)] + unusable
        if deps.enforce:
            await out.emit(StagingFailed(summary=rules_run.summary(failed, unusable), reasons=reasons,
                                         notification_emails=event.offer.notification_emails, reports=reports))
            return
        warnings += rules_run.as_warnings(reasons)
    await out.emit(StagingPassed(offer=event.offer, disks=event.disks, replicas=event.replicas, reports=reports,
                                 warnings=warnings))


# The publishing topic's agent: the end of a run stops its boot at once (QEMU killed), not when the boot times out.
async def on_publish_requested(deps: Deps, env: Envelope, event: PublishRequested, out: Outbox) -> None:
    running = deps.boots.running(env.offer_id)
    if running is not None and running != env.run_id:
        deps.boots.stop(env.offer_id, running, f"superseded by run {env.run_id}")


async def on_step_timed_out(deps: Deps, env: Envelope, event: StepTimedOut, out: Outbox) -> None:
    if env.run_id is not None:
        deps.boots.stop(env.offer_id, env.run_id, f"the run timed out at step {event.step}")


async def on_publish_canceled(deps: Deps, env: Envelope, event: PublishCanceled, out: Outbox) -> None:
    if env.run_id is not None:
        deps.boots.stop(env.offer_id, env.run_id, "the run was canceled")


BOOTS: Handlers[Deps] = {ProvisioningPassed: on_provisioning_passed}
CONTROL: Handlers[Deps] = {
    PublishRequested: on_publish_requested,
    StepTimedOut: on_step_timed_out,
    PublishCanceled: on_publish_canceled,
}
HANDLERS: Handlers[Deps] = {**BOOTS, **CONTROL}
