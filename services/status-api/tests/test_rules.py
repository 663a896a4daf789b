from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

from offerflow_contract.envelope import Envelope, Event, wrap
from offerflow_contract.events import (
    CertificationFailed,
    CertificationPassed,
    CertificationStarted,
    GoLiveRequested,
    OfferSnapshot,
    OfferWentLive,
    PackagingPassed,
    PreviewAudienceChanged,
    PreviewReady,
    ProvisioningPassed,
    PublishCanceled,
    PublishRequested,
    Reason,
    ValidationPassed,
    ValidationStarted,
)
from offerflow_contract.steps import OfferStatus, StepId, StepStatus
from offerflow_status_api.projection.fold import fold_run
from offerflow_status_api.status_document import CANCELED_MESSAGE, offer_status, status_document

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


def test_cancel_at_signoff_ends_the_run_and_the_offer_is_back_at_step_one() -> None:
    view = fold_run("r", to_signoff() + chain(PublishCanceled(notification_emails=["a@b.example"]))[0:1])
    assert view.status == OfferStatus.CANCELED
    operation = status_document(view)  # the operation keeps the run's history
    assert next(s for s in operation["steps"] if s["id"] == "publisher-signoff")["status"] == "canceled"
    offer = offer_status(operation)
    assert offer["status"] == "canceled" and offer["currentStep"] == "displaydummycertify"
    assert {s["status"] for s in offer["steps"]} == {"notStarted"}
    assert offer["steps"][0]["messages"][0]["messageHtml"] == CANCELED_MESSAGE
    assert offer["notificationEmails"] == "a@b.example" and offer["runId"] == "r"


def test_messages_are_text_and_their_html_is_escaped() -> None:
    view = fold_run("r", chain(PublishRequested(offer=SNAP, requested_by="p"), CertificationFailed(
        summary="bad <b>disk</b>", reasons=[Reason(code="c", message='<img src=x onerror="alert(1)">')])))
    html = [m["messageHtml"] for s in status_document(view)["steps"] for m in s["messages"]]
    assert "bad &lt;b&gt;disk&lt;/b&gt;" in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert not any("<" in h for h in html)


def test_never_published_lists_seven_steps_in_order() -> None:
    doc = status_document(None)
    assert doc["status"] == "neverPublished"
    assert [s["id"] for s in doc["steps"]] == [
        "displaydummycertify", "displaycertify", "displayprovision", "displaystaging", "displaypackage",
        "publisher-signoff", "live"]
    assert all(set(s) >= {"estimatedTimeFrame", "stepName", "description", "progressPercentage", "messages"}
               for s in doc["steps"])


def test_every_permutation_of_a_short_run_agrees() -> None:
    envs = chain(PublishRequested(offer=SNAP, requested_by="p"), ValidationStarted(), ValidationPassed(offer=SNAP),
                 CertificationStarted())
    docs = {str(status_document(fold_run("r", list(p)))) for p in itertools.permutations(envs)}
    assert len(docs) == 1


def test_a_subscription_taken_off_the_audience_loses_its_preview_link_for_good() -> None:
    a, b = "6d8f2e3a-1b2c-4d5e-8f90-123456789abc", "0e7c5d3b-2a1f-4e6d-9c8b-7a6f5e4d3c2b"
    links = [f"http://s/preview/p.o?subscriptionId={a}&access=t1", f"http://s/preview/p.o?subscriptionId={b}&access=t2"]
    ready = PreviewReady(offer_version=2, preview_links=links, audience=[a, b], notification_emails=[])
    envs = to_signoff()[:-1] + chain(ready, PreviewAudienceChanged(audience=[a.upper()]),
                                     PreviewAudienceChanged(audience=[a, b]))[0:3]
    for order in (envs, list(reversed(envs))):
        assert fold_run("r", order).preview_links == links[:1]  # putting b back does not revive its link
    assert fold_run("r", to_signoff()[:-1] + chain(ready)[0:1]).preview_links == links
