"""Measured ETAs and overdue steps in the status document (pure), and the step-duration metric."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import REGISTRY

from offerflow_contract.envelope import Envelope, Event, wrap
from offerflow_contract.events import (
    CertificationFailed,
    CertificationPassed,
    CertificationStarted,
    OfferSnapshot,
    PublishRequested,
    Reason,
    ValidationPassed,
    ValidationStarted,
)
from offerflow_contract.steps import StepId
from offerflow_shared import service
from offerflow_shared.outbox import MemorySink, Outbox
from offerflow_status_api import eta
from offerflow_status_api.commands.lifecycle import RunLifecycle
from offerflow_status_api.commands.memory import MemoryCommandStore
from offerflow_status_api.projection import fold
from offerflow_status_api.projection.fold import fold_run
from offerflow_status_api.projection.handlers import HANDLERS, Deps
from offerflow_status_api.projection.state import RunState
from offerflow_status_api.projection.view import Applied
from offerflow_status_api.status_document import status_document
from offerflow_status_api.step_metrics import finished_step

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SNAP = OfferSnapshot(offer_version=1, definition={}, notification_emails=["a@b.example"])
CERT = StepId.CERTIFICATION.value


def doc_in_certification(started: datetime) -> dict[str, Any]:
    envs = [wrap(e, offer_id="o", publisher_id="p", run_id="r", producer="t", occurred_at=at) for e, at in (
        (PublishRequested(offer=SNAP, requested_by="p"), started - timedelta(seconds=20)),
        (ValidationStarted(), started - timedelta(seconds=10)), (ValidationPassed(offer=SNAP), started),
        (CertificationStarted(), started))]
    return status_document(fold_run("r", envs))


def step(doc: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(s for s in doc["steps"] if s["id"] == step_id)


def test_percentiles_and_human_durations() -> None:
    stats = eta.stats_of({CERT: [float(v) for v in range(1, 11)], "x": []})
    assert stats == {CERT: eta.StepStats(10, 5.0, 9.0)}
    assert [eta.human(s) for s in (0.2, 45, 600, 7200, 3600, 3 * 86400)] == [
        "1 s", "45 s", "10 min", "2 hours", "60 min", "3 days"]
    assert [eta.static_seconds(s) for s in ("<15 min", "<1 hour", "<1 day", "soon")] == [900, 3600, 86400, None]


def test_without_enough_samples_the_static_eta_stays() -> None:
    doc = doc_in_certification(T0)
    stats = {CERT: eta.StepStats(eta.MIN_SAMPLES - 1, 10.0, 20.0)}
    out = eta.annotate(doc, stats, T0 + timedelta(minutes=30))
    cert = step(out, CERT)
    assert cert["estimatedTimeFrame"] == "<1 hour" and cert["etaSeconds"] == 3600 and cert["overdue"] is False
    assert step(out, StepId.PROVISIONING.value)["etaSeconds"] == 86400
    assert "etaSeconds" not in step(doc, CERT)  # the input is not changed


def test_measured_eta_and_overdue_after_twice_p90() -> None:
    doc = doc_in_certification(T0)
    stats = {CERT: eta.StepStats(12, 240.0, 600.0)}
    on_time = step(eta.annotate(doc, stats, T0 + timedelta(seconds=1200)), CERT)
    assert on_time["estimatedTimeFrame"] == "~4 min (90% <10 min)"
    assert on_time["etaSeconds"] == 600 and on_time["overdue"] is False
    late = step(eta.annotate(doc, stats, T0 + timedelta(seconds=1201)), CERT)
    assert late["overdue"] is True


def test_only_in_progress_steps_are_overdue() -> None:
    doc = doc_in_certification(T0)
    stats = {StepId.VALIDATION.value: eta.StepStats(50, 1.0, 2.0)}
    out = eta.annotate(doc, stats, T0 + timedelta(days=5))
    assert step(out, StepId.VALIDATION.value)["status"] == "complete"
    assert not any(s["overdue"] for s in out["steps"] if s["id"] != CERT)
    never = eta.annotate(status_document(None), stats, T0)
    assert all(s["overdue"] is False for s in never["steps"])


def _chain_to_cert_end(ok: bool) -> list[Envelope]:
    failed = CertificationFailed(summary="bad image", reasons=[Reason(code="x", message="bad")])
    end = CertificationPassed(offer=SNAP, disks=[]) if ok else failed
    return [wrap(e, offer_id="o", publisher_id="p", run_id="r", producer="t", occurred_at=T0 + timedelta(seconds=s))
            for e, s in ((PublishRequested(offer=SNAP, requested_by="p"), 0), (CertificationStarted(), 10),
                         (end, 70))]


def test_finished_step_times_the_step_its_event_ends() -> None:
    envs = _chain_to_cert_end(ok=False)
    assert finished_step(fold_run("r", envs), envs[-1].event()) == (CERT, "failed", 60.0)
    assert finished_step(fold_run("r", envs), envs[1].event()) is None


class FakeReadModel:
    """The read model's projection side in memory: dedupes by event id, keeps each run's fold state."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.states: dict[str, RunState] = {}

    async def apply(self, env: Envelope, event: Event | None = None) -> Applied:
        if str(env.event_id) in self.seen:
            return Applied(new=False)
        self.seen.add(str(env.event_id))
        if env.run_id is None:
            return Applied(new=True)
        state = fold.apply(self.states.get(env.run_id) or fold.new_state(env), env, event)
        self.states[env.run_id] = state
        view = fold.view_of(state)
        return Applied(new=True, view=view if view.requested else None)


async def test_the_projection_observes_each_finished_step_once() -> None:
    def count() -> float:
        return REGISTRY.get_sample_value("offerflow_step_seconds_count", {"step": CERT, "outcome": "complete"}) or 0

    before = count()
    handlers = service.bind(HANDLERS, Deps(FakeReadModel(), RunLifecycle(MemoryCommandStore())))
    envs = _chain_to_cert_end(ok=True)
    for env in [*envs, envs[-1]]:  # the last one redelivered
        await handlers[env.event_type](env, env.event(), Outbox(MemorySink(), "t", "p", env, None))
    assert count() == before + 1
    assert REGISTRY.get_sample_value("offerflow_step_seconds_bucket",
                                     {"step": CERT, "outcome": "complete", "le": "60.0"}) is not None
