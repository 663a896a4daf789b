"""The step supervisor: overdue past twice the usual duration, ended past the hard limit, and what the fold,
the command side and a repeated sweep make of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from offerflow_contract.envelope import wrap
from offerflow_contract.events import (
    CertificationStarted,
    OfferSnapshot,
    PublishRequested,
    StepOverdue,
    StepTimedOut,
    ValidationPassed,
    ValidationStarted,
)
from offerflow_contract.steps import StepId
from offerflow_status_api import supervisor
from offerflow_status_api.commands import CommandService, Publish, RunPhase, SaveDraft
from offerflow_status_api.commands.lifecycle import RunLifecycle
from offerflow_status_api.commands.memory import MemoryCommandStore
from offerflow_status_api.projection.fold import fold_run
from offerflow_status_api.status_document import status_document

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SNAP = OfferSnapshot(offer_version=2, definition={}, notification_emails=["a@b.example"])
LIMITS = {**supervisor.DEFAULT_LIMITS, StepId.CERTIFICATION: 4 * 3600}


def running_certification(*extra: Any) -> dict[str, Any]:
    envs = [wrap(e, offer_id="o", publisher_id="p", run_id="r", producer="t", occurred_at=T0)
            for e in (PublishRequested(offer=SNAP, requested_by="p"), ValidationStarted(),
                      ValidationPassed(offer=SNAP), CertificationStarted())]
    envs += [wrap(e, offer_id="o", publisher_id="p", run_id="r", producer="supervisor",
                  occurred_at=T0 + timedelta(hours=1)) for e in extra]
    return status_document(fold_run("r", envs))


def test_a_step_within_its_usual_time_is_left_alone() -> None:
    assert supervisor.inspect(running_certification(), {}, T0 + timedelta(minutes=30), LIMITS) is None


def test_past_twice_the_usual_time_a_step_is_overdue_once() -> None:
    found = supervisor.inspect(running_certification(), {}, T0 + timedelta(hours=2, minutes=1), LIMITS)
    assert found is not None and found.emit and isinstance(found.event, StepOverdue)
    assert found.step == StepId.CERTIFICATION and found.event.expected_seconds == 3600
    told = running_certification(found.event)
    cert = next(s for s in told["steps"] if s["id"] == "displaycertify")
    assert cert["status"] == "inProgress" and cert["messages"][-1]["level"] == "warning"
    again = supervisor.inspect(told, {}, T0 + timedelta(hours=2, minutes=5), LIMITS)
    assert again is not None and not again.emit  # still overdue, but the publisher was told already


def test_past_its_hard_limit_a_step_fails_the_run_and_publish_works_again() -> None:
    found = supervisor.inspect(running_certification(), {}, T0 + timedelta(hours=4), LIMITS)
    assert found is not None and isinstance(found.event, StepOverdue)
    found = supervisor.inspect(running_certification(), {}, T0 + timedelta(hours=4, seconds=1), LIMITS)
    assert found is not None and isinstance(found.event, StepTimedOut)
    assert found.event.notification_emails == ["a@b.example"]
    doc = running_certification(found.event)
    cert = next(s for s in doc["steps"] if s["id"] == "displaycertify")
    assert doc["status"] == "failed" and cert["status"] == "failed"
    assert cert["messages"][-1]["code"] == "step-timed-out"
    assert supervisor.inspect(doc, {}, T0 + timedelta(days=3), LIMITS) is None  # an ended run is left alone


async def test_a_timed_out_step_ends_the_run_on_the_command_side() -> None:
    store = MemoryCommandStore()
    svc = CommandService(store=store)
    await svc.save_draft(SaveDraft(publisher_id="p", offer_id="o", offer_type_id="vm", definition={},
                                   if_match="*"))
    first = await svc.publish(Publish(publisher_id="p", offer_id="o", notification_emails=["a@b.example"],
                                      requested_by="p"))
    env = wrap(supervisor.timed_out(StepId.PROVISIONING, 60, []),
               offer_id="o", publisher_id="p", run_id=first.run_id, producer="supervisor")
    assert await RunLifecycle(store).apply(env, env.event())
    assert store.states[("p", "o")].run_phase == RunPhase.ENDED
    assert (await svc.publish(Publish(publisher_id="p", offer_id="o", notification_emails=["a@b.example"],
                                      requested_by="p"))).status == 202


class FakePool:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        return [] if "jsonb_array_elements" in query else self.rows


async def test_a_repeated_sweep_emits_the_same_event_ids() -> None:
    import json

    rows = [{"run_id": "r", "publisher_id": "p", "offer_id": "o",
             "document": json.dumps(running_certification())}]
    async def emit(env: Any) -> None:
        return None

    later = T0 + timedelta(hours=5)
    first = await supervisor.sweep(FakePool(rows), emit, later, LIMITS)
    second = await supervisor.sweep(FakePool(rows), emit, later, LIMITS)
    assert [e.event_type for e in first] == ["offer.step_timed_out"]
    assert first[0].event_id == second[0].event_id


async def test_a_sweep_on_the_timer_never_raises() -> None:
    """The timer runs inside the projection worker: a database restart during a sweep must not crash it."""

    class DownPool:
        async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
            raise ConnectionRefusedError(111, "Connect call failed")

    async def emit(env: Any) -> None:
        raise AssertionError("nothing to emit")

    assert await supervisor.sweep_safely(DownPool(), emit, T0, LIMITS) == []
