from __future__ import annotations

import asyncio
from pathlib import Path
from types import ModuleType
from typing import Any

from offerflow_contract.events import (
    OfferSnapshot,
    PublishCanceled,
    PublishRequested,
    Reason,
    StagingFailed,
    StagingPassed,
    StagingProgressed,
    StagingStarted,
    StepTimedOut,
)
from offerflow_contract.steps import StepId
from offerflow_staging.adapters.fake import FakeBooter
from offerflow_staging.adapters.replicas import ReplicaProblem


async def test_boots_each_plans_os_disk_from_the_first_region_of_the_map(kit: ModuleType, tmp_path: Path) -> None:
    k = kit.make(tmp_path, booter=FakeBooter(warning={"silver": "agent"}))
    env = kit.passed(("gold", "silver"), regions=("westeurope", "eastus"))
    await k.boots.process(kit.incoming(env))

    # eastus comes first in the map, although the event lists westeurope first; data disks are not booted.
    assert [(p, r) for p, r, _ in k.booter.booted] == [("gold", "eastus"), ("silver", "eastus")]
    assert [sha for *_, sha in k.booter.booted] == [r.sha256 for r in env.event().replicas
                                                    if r.disk == "os" and r.region == "eastus"]
    events = k.events()
    assert isinstance(events[0], StagingStarted) and "2 replica(s)" in events[0].message
    progress = [e for e in events if isinstance(e, StagingProgressed)]
    assert len(progress) == 14  # one per check per plan
    assert [p.percentage for p in progress] == sorted(p.percentage for p in progress)
    assert max(p.percentage for p in progress) < 100
    assert "plan silver version 1.0.0 (eastus): agent warning" in progress[12].message
    assert progress[12].level == "warning"
    final = events[-1]
    assert isinstance(final, StagingPassed)
    assert [r.plan_id for r in final.reports] == ["gold", "silver"]
    assert final.disks == env.event().disks and final.replicas == env.event().replicas
    assert final.offer == env.event().offer
    assert [(w.code, w.level) for w in final.warnings] == [("staging-agent", "warning")]
    assert not list((tmp_path / "replicas").iterdir())  # every download deleted after its boot


async def test_a_failed_boot_fails_the_step_naming_the_plan_and_the_stage(kit: ModuleType, tmp_path: Path) -> None:
    k = kit.make(tmp_path, booter=FakeBooter(failing={"silver": "ssh"}))
    await k.boots.process(kit.incoming(kit.passed(("gold", "silver"))))
    final = k.events()[-1]
    assert isinstance(final, StagingFailed)
    assert "plan silver version 1.0.0 did not reach SSH" in final.summary and "gold" not in final.summary
    assert [r.code for r in final.reasons] == ["staging-ssh"]
    assert [r.result for r in final.reports] == ["Pass", "Fail"]
    assert final.notification_emails == kit.EMAILS
    assert [p.level for p in k.events() if isinstance(p, StagingProgressed)].count("error") == 1


async def test_not_enforced_a_failed_boot_passes_with_its_failures_as_warnings(kit: ModuleType,
                                                                              tmp_path: Path) -> None:
    k = kit.make(tmp_path, enforce=False, booter=FakeBooter(failing={"gold": "boot-loader"}, unusable={"silver"}))
    await k.boots.process(kit.incoming(kit.passed(("gold", "silver"))))
    final = k.events()[-1]
    assert isinstance(final, StagingPassed)
    assert [r.first_missing for r in final.reports] == ["boot-loader"]  # the report is kept
    assert [(w.code, w.level) for w in final.warnings] == [("staging-boot-loader", "warning"),
                                                           ("unusable-image", "warning")]
    assert all("not enforced" in w.message for w in final.warnings)


async def test_an_unusable_image_fails_the_step(kit: ModuleType, tmp_path: Path) -> None:
    k = kit.make(tmp_path, booter=FakeBooter(unusable={"gold"}))
    await k.boots.process(kit.incoming(kit.passed()))
    final = k.events()[-1]
    assert isinstance(final, StagingFailed) and final.reasons[0].code == "unusable-image"


async def test_a_replica_that_is_not_the_certified_image_fails_even_when_not_enforced(kit: ModuleType,
                                                                                      tmp_path: Path) -> None:
    k = kit.make(tmp_path, enforce=False)
    env = kit.passed()
    first = next(r for r in env.event().replicas if r.region == "eastus" and r.disk == "os")
    k.replicas.blobs[first.location] = b"something else"
    await k.boots.process(kit.incoming(env))
    final = k.events()[-1]
    assert isinstance(final, StagingFailed) and final.reasons[0].code == "replica-mismatch"
    assert k.booter.booted == []


async def test_no_replica_in_a_region_of_the_map_fails(kit: ModuleType, tmp_path: Path) -> None:
    k = kit.make(tmp_path)
    await k.boots.process(kit.incoming(kit.passed(regions=("brazilsouth",))))
    events = k.events()
    assert len(events) == 1 and isinstance(events[0], StagingFailed)
    assert events[0].reasons[0].code == "no-replica" and "plan gold version 1.0.0" in events[0].summary


async def test_a_redelivered_input_re_emits_the_same_events_without_booting_again(kit: ModuleType,
                                                                                 tmp_path: Path) -> None:
    k = kit.make(tmp_path, booter=FakeBooter(failing={"gold": "init"}))
    msg = kit.incoming(kit.passed())
    await k.boots.process(msg)
    first = k.sink.envelopes("offerflow.staging")
    await k.boots.process(msg)
    again = k.sink.envelopes("offerflow.staging")[len(first):]
    assert len(k.booter.booted) == 1
    assert [e.event_id for e in again] == [e.event_id for e in first]
    assert [e.payload for e in again] == [e.payload for e in first]


async def _held(kit: ModuleType, tmp_path: Path, run_id: str = "run-1") -> tuple[Any, asyncio.Task[None], Any]:
    """A boot in progress (held after its first check), its handler's task and its input."""
    hold = asyncio.Event()
    k = kit.make(tmp_path, booter=FakeBooter(hold=hold))
    msg = kit.incoming(kit.passed(run_id=run_id))
    task = asyncio.create_task(k.boots.process(msg))
    for _ in range(100):
        if k.booter.booted:
            break
        await asyncio.sleep(0.01)
    assert k.deps.boots.running("web-server") == run_id
    return k, task, msg


async def test_a_new_publish_stops_the_boot_of_the_earlier_run(kit: ModuleType, tmp_path: Path) -> None:
    k, task, msg = await _held(kit, tmp_path)
    same = PublishRequested(offer=OfferSnapshot(offer_version=2, definition={}, notification_emails=[]),
                            requested_by="p")
    await k.control.process(kit.incoming(kit.command(same, "run-1"), "offerflow.publishing"))
    assert not task.done()  # the run's own Publish does not stop it
    await k.control.process(kit.incoming(kit.command(same, "run-2"), "offerflow.publishing"))
    await asyncio.wait_for(task, 5)
    assert k.booter.cancelled == ["gold"]
    assert not any(isinstance(e, StagingPassed | StagingFailed) for e in k.events())
    assert k.deps.boots.running("web-server") is None
    # Its input redelivered later: the run has ended, nothing is booted again.
    await asyncio.wait_for(k.boots.process(msg), 5)
    assert len(k.booter.booted) == 1


async def test_a_timed_out_or_canceled_run_stops_its_boot_only(kit: ModuleType, tmp_path: Path) -> None:
    k, task, _ = await _held(kit, tmp_path)
    reason = [Reason(code="step-timed-out", message="too long")]
    other = StepTimedOut(step=StepId.STAGING, limit_seconds=60, summary="too long", reasons=reason,
                         notification_emails=[])
    await k.control.process(kit.incoming(kit.command(other, "run-0"), "offerflow.publishing"))
    assert not task.done()
    await k.control.process(kit.incoming(kit.command(other, "run-1"), "offerflow.publishing"))
    await asyncio.wait_for(task, 5)
    assert k.booter.cancelled == ["gold"]

    k2, task2, _ = await _held(kit, tmp_path / "b", run_id="run-3")
    await k2.control.process(kit.incoming(kit.command(PublishCanceled(notification_emails=[]), "run-3"),
                                          "offerflow.publishing"))
    await asyncio.wait_for(task2, 5)
    assert k2.booter.cancelled == ["gold"]


async def test_the_step_time_limit_stops_the_boot_and_fails_the_run(kit: ModuleType, tmp_path: Path) -> None:
    k = kit.make(tmp_path, step_timeout=0.3, booter=FakeBooter(hold=asyncio.Event()))
    await asyncio.wait_for(k.boots.process(kit.incoming(kit.passed())), 5)
    assert k.booter.cancelled == ["gold"]
    final = k.events()[-1]
    assert isinstance(final, StagingFailed) and final.reasons[0].code == "step-timed-out"
    assert k.deps.boots.running("web-server") is None
    assert not list((tmp_path / "replicas").iterdir())


async def test_a_replica_that_cannot_be_had_fails_with_its_code(kit: ModuleType, tmp_path: Path) -> None:
    k = kit.make(tmp_path)
    k.replicas.problem = ReplicaProblem("replica-missing", "gone from the store")
    await k.boots.process(kit.incoming(kit.passed()))
    final = k.events()[-1]
    assert isinstance(final, StagingFailed) and final.summary == "Staging failed: gone from the store"
