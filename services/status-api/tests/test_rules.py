from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

from offerflow_shared.envelope import Envelope, Event, wrap
from offerflow_shared.events import (
    CertificationFailed,
    CertificationPassed,
    CertificationStarted,
    GoLiveRequested,
    OfferSnapshot,
    OfferWentLive,
    PackagingPassed,
    PreviewReady,
    ProvisioningPassed,
    PublishCanceled,
    PublishRequested,
    Reason,
    ValidationPassed,
    ValidationStarted,
)
from offerflow_shared.steps import OfferStatus, StepId, StepStatus
from offerflow_status_api.rules import can_publish, can_sign_off, fold_run, status_document

SNAP = OfferSnapshot(offer_version=2, definition={}, notification_emails=["a@b.example"])
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def chain(*events: Event) -> list[Envelope]:
    return [wrap(e, offer_id="o", publisher_id="p", run_id="r", producer="t", occurred_at=T0 + timedelta(seconds=i))
            for i, e in enumerate(events)]


def to_signoff() -> list[Envelope]:
    return chain(PublishRequested(offer=SNAP, requested_by="p"), ValidationStarted(), ValidationPassed(offer=SNAP),
                 CertificationStarted(), CertificationPassed(offer=SNAP, disks=[]),
                 ProvisioningPassed(offer=SNAP, disks=[], replicas=[]),
                 PackagingPassed(offer=SNAP, preview_links=["http://x"]),
                 PreviewReady(offer_version=2, preview_links=["http://x"], audience=[], notification_emails=[]))


def test_a_run_at_signoff_waits_for_the_publisher() -> None:
    view = fold_run("r", to_signoff())
    assert view.status == OfferStatus.WAITING_FOR_PUBLISHER_REVIEW
    assert view.steps[StepId.SIGNOFF].status == StepStatus.WAITING_FOR_PUBLISHER_REVIEW
    assert view.steps[StepId.PROVISIONING].status == StepStatus.COMPLETE
    assert can_sign_off(view, "Go live") is None
    assert can_publish(view, "r") is not None


def test_the_view_does_not_depend_on_arrival_order() -> None:
    envs = to_signoff()
    expected = status_document(fold_run("r", envs))
    rng = random.Random(7)
    for _ in range(20):
        shuffled = envs[:]
        rng.shuffle(shuffled)
        assert status_document(fold_run("r", shuffled)) == expected


def test_duplicates_change_nothing() -> None:
    envs = to_signoff()
    assert status_document(fold_run("r", envs + envs[2:5])) == status_document(fold_run("r", envs))


def test_go_live_then_live_succeeds() -> None:
    view = fold_run("r", to_signoff() + chain(
        GoLiveRequested(offer_version=2, notification_emails=[], requested_by="p"),
        OfferWentLive(offer_version=2, live_links=["http://live"], notification_emails=[]))[0:2])
    assert view.status == OfferStatus.SUCCEEDED
    assert view.live_links == ["http://live"]
    assert can_publish(view, "r") is None


def test_a_failure_stops_at_its_step_with_the_reasons() -> None:
    view = fold_run("r", chain(PublishRequested(offer=SNAP, requested_by="p"), ValidationPassed(offer=SNAP),
                               CertificationFailed(summary="bad disk", reasons=[
                                   Reason(code="vhd.cookie", message="cookie wrong", field="/x")])))
    assert view.status == OfferStatus.FAILED
    doc = status_document(view)
    cert = next(s for s in doc["steps"] if s["id"] == "displaycertify")
    assert cert["status"] == "failed"
    assert {m["messageHtml"] for m in cert["messages"]} >= {"bad disk", "cookie wrong"}
    assert doc["messages"]
    assert next(s for s in doc["steps"] if s["id"] == "displayprovision")["status"] == "notStarted"


def test_cancel_at_signoff_ends_the_run() -> None:
    view = fold_run("r", to_signoff() + chain(PublishCanceled(notification_emails=[]))[0:1])
    assert view.status == OfferStatus.CANCELED
    assert can_sign_off(view, "Cancel") is not None
    assert can_publish(view, "r") is None


def test_signoff_actions_are_refused_elsewhere() -> None:
    running = fold_run("r", chain(PublishRequested(offer=SNAP, requested_by="p"), ValidationStarted()))
    assert running.status == OfferStatus.RUNNING
    refusal = can_sign_off(running, "Cancel")
    assert refusal is not None and "displaydummycertify" in refusal.message
    assert can_sign_off(None, "Go live") is not None


def test_a_pending_run_not_yet_projected_blocks_a_second_publish() -> None:
    assert can_publish(None, "new-run") is not None
    done = fold_run("old", [e.model_copy(update={"run_id": "old"}) for e in chain(
        PublishRequested(offer=SNAP, requested_by="p"), CertificationFailed(summary="x", reasons=[
            Reason(code="c", message="m")]))])
    assert can_publish(done, "old") is None
    assert can_publish(done, "newer") is not None


def test_never_published_lists_six_steps_in_order() -> None:
    doc = status_document(None)
    assert doc["status"] == "neverPublished"
    assert [s["id"] for s in doc["steps"]] == [
        "displaydummycertify", "displaycertify", "displayprovision", "displaypackage", "publisher-signoff", "live"]
    assert all(set(s) >= {"estimatedTimeFrame", "stepName", "description", "progressPercentage", "messages"}
               for s in doc["steps"])


def test_every_permutation_of_a_short_run_agrees() -> None:
    envs = chain(PublishRequested(offer=SNAP, requested_by="p"), ValidationStarted(), ValidationPassed(offer=SNAP),
                 CertificationStarted())
    docs = {str(status_document(fold_run("r", list(p)))) for p in itertools.permutations(envs)}
    assert len(docs) == 1
