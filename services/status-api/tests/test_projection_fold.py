"""The incremental fold: one event applied to a run's stored state gives what folding the run's events in
order gives, in any arrival order, and a redelivered event changes nothing."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from offerflow_contract.envelope import Envelope, Event, wrap
from offerflow_contract.events import (
    CertificationFailed,
    CertificationPassed,
    CertificationProgressed,
    CertificationStarted,
    GoLiveRequested,
    OfferSnapshot,
    OfferWentLive,
    PackagingPassed,
    PreviewAudienceChanged,
    PreviewReady,
    PreviewWithdrawn,
    ProvisioningPassed,
    PublishRequested,
    Reason,
    StagingCheck,
    StagingPassed,
    StagingReport,
    StagingStarted,
    StepOverdue,
    StepTimedOut,
    ValidationPassed,
    ValidationStarted,
)
from offerflow_contract.steps import OfferStatus, StepId, StepStatus
from offerflow_status_api.projection import state as run_state
from offerflow_status_api.projection.fold import apply, fold_run, new_state, view_of
from offerflow_status_api.projection.state import RunState
from offerflow_status_api.status_document import status_document

SNAP = OfferSnapshot(offer_version=2, definition={}, notification_emails=["a@b.example"])
T0 = datetime(2026, 1, 1, tzinfo=UTC)
LINK = "https://preview.example/o?subscriptionId={}"
BOOT = StagingReport(plan_id="std", image_version="1.0.0", region="westeurope", location="/r/os.vhd",
                     accelerator="tcg", result="Pass", summary="booted to multi-user in 38 s", seconds=40,
                     checks=[StagingCheck(check_id="ssh", name="SSH answered", result="Passed", actual="OpenSSH",
                                          required="a banner", seconds=38.0)], console="login:")


def at(seconds: float, event: Event) -> Envelope:
    return wrap(event, offer_id="o", publisher_id="p", run_id="r", producer="t",
                occurred_at=T0 + timedelta(seconds=seconds))


def a_run() -> list[Envelope]:
    """A run with something of everything: progress, a warning, an overdue step, audiences, go live."""
    return [
        at(0, PublishRequested(offer=SNAP, requested_by="p")),
        at(1, ValidationStarted(message="checking")),
        at(2, ValidationPassed(offer=SNAP, warnings=[Reason(code="w", message="short title", field="/t")])),
        at(3, CertificationStarted()),
        at(4, CertificationProgressed(percentage=30, message="test 1")),
        at(5, StepOverdue(step=StepId.CERTIFICATION, running_seconds=7200, expected_seconds=3600)),
        at(6, CertificationProgressed(percentage=70, message="test 2")),
        at(7, CertificationPassed(offer=SNAP, disks=[])),
        at(8, ProvisioningPassed(offer=SNAP, disks=[], replicas=[])),
        at(8.2, StagingStarted()),
        at(8.5, StagingPassed(offer=SNAP, disks=[], replicas=[], reports=[BOOT])),
        at(9, PackagingPassed(offer=SNAP, preview_links=[LINK.format("a")])),
        at(10, PreviewReady(offer_version=2, preview_links=[LINK.format("A"), LINK.format("b")], audience=[],
                            notification_emails=[])),
        at(11, PreviewAudienceChanged(audience=["a", "c"])),
        at(12, GoLiveRequested(offer_version=2, notification_emails=[], requested_by="p")),
        at(13, OfferWentLive(offer_version=2, live_links=["https://live"], notification_emails=[])),
    ]


def stored_path(envelopes: list[Envelope]) -> RunState:
    """What the read model does: load the stored state, apply one event, store it (as JSON) again."""
    stored: str | None = None
    for env in envelopes:
        state = run_state.from_json(json.loads(stored)) if stored is not None else new_state(env)
        stored = json.dumps(run_state.to_json(apply(state, env)))
    assert stored is not None
    return run_state.from_json(json.loads(stored))


def test_the_folded_run_is_what_its_events_say() -> None:
    view = fold_run("r", a_run())
    assert view.status == OfferStatus.SUCCEEDED and view.submission_type == "goLive"
    cert = view.steps[StepId.CERTIFICATION]
    assert (cert.status, cert.progress, cert.started_at) == (StepStatus.COMPLETE, 100, T0 + timedelta(seconds=3))
    assert [m.code for m in cert.messages] == [None, "stepOverdue", None]
    assert [m.text for m in view.steps[StepId.VALIDATION].messages] == ["checking", "short title"]
    # "b" left the audience while the preview was open: its link is gone; the match ignores case.
    assert view.preview_links == [LINK.format("A")]
    assert view.steps[StepId.LIVE].started_at == T0 + timedelta(seconds=12)
    assert view.finished_at == T0 + timedelta(seconds=13)


def test_one_event_at_a_time_through_the_stored_state_equals_folding_the_list() -> None:
    envs = a_run()
    expected = status_document(fold_run("r", envs))
    rng = random.Random(11)
    for _ in range(40):
        arrival = envs + rng.sample(envs, 4)  # with redeliveries
        rng.shuffle(arrival)
        assert status_document(view_of(stored_path(arrival))) == expected


def test_a_redelivered_event_leaves_the_state_unchanged() -> None:
    envs = a_run()
    state = stored_path(envs)
    for env in envs:
        assert apply(state, env) == state


def test_joining_states_does_not_depend_on_their_order() -> None:
    envs = a_run()
    first, second = stored_path(envs[::2]), stored_path(envs[1::2])
    assert first.join(second) == second.join(first) == stored_path(envs)
    assert first.join(first) == first


def test_progress_reported_after_the_step_failed_does_not_count_even_if_it_arrives_first() -> None:
    envs = [at(0, PublishRequested(offer=SNAP, requested_by="p")), at(1, CertificationStarted()),
            at(2, CertificationProgressed(percentage=40, message="a")),
            at(3, CertificationFailed(summary="bad", reasons=[Reason(code="x", message="broken")])),
            at(4, CertificationProgressed(percentage=90, message="late"))]
    for arrival in (envs, envs[::-1]):
        cert = view_of(stored_path(arrival)).steps[StepId.CERTIFICATION]
        assert (cert.status, cert.progress) == (StepStatus.FAILED, 40)
        assert cert.finished_at == T0 + timedelta(seconds=3)


def test_the_later_of_a_time_out_and_going_live_decides_the_live_step_whatever_arrives_first() -> None:
    start = [at(0, PublishRequested(offer=SNAP, requested_by="p")),
             at(1, GoLiveRequested(offer_version=2, notification_emails=[], requested_by="p"))]
    timed_out = StepTimedOut(step=StepId.LIVE, limit_seconds=10, summary="too long",
                             reasons=[Reason(code="step-timed-out", message="stopped")], notification_emails=[])
    live = OfferWentLive(offer_version=2, live_links=["https://live"], notification_emails=[])
    for envs, outcome in (([at(2, timed_out), at(3, live)], StepStatus.COMPLETE),
                          ([at(2, live), at(3, timed_out)], StepStatus.FAILED)):
        for arrival in (start + envs, envs[::-1] + start[::-1]):
            step = view_of(stored_path(arrival)).steps[StepId.LIVE]
            assert step.status == outcome
            assert step.started_at == T0 + timedelta(seconds=1)  # go live started it, whatever came first


def test_a_withdrawn_preview_shows_no_links_in_any_order() -> None:
    envs = [at(0, PublishRequested(offer=SNAP, requested_by="p")),
            at(1, PreviewReady(offer_version=2, preview_links=["http://x"], audience=[], notification_emails=[])),
            at(2, PreviewWithdrawn(reason="gone")),
            at(3, PreviewReady(offer_version=2, preview_links=["http://y"], audience=[], notification_emails=[]))]
    for arrival in (envs, envs[::-1]):
        view = view_of(stored_path(arrival))
        assert view.preview_links == [] and not view.preview_open
        assert view.steps[StepId.SIGNOFF].started_at == T0 + timedelta(seconds=3)


def test_a_run_without_its_publish_request_is_not_requested_until_it_comes() -> None:
    envs = a_run()
    assert not view_of(stored_path(envs[1:])).requested
    assert view_of(stored_path(envs[1:] + envs[:1])).requested
