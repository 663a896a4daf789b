"""Which dead letters `dlq replay` leaves alone because their run has ended (decided from the topics)."""

from __future__ import annotations

from offerflow_cli.ops_dlq import ended_runs
from offerflow_cli.ops_kafka import Record
from offerflow_contract.codec import encode
from offerflow_contract.dlq import DeadLetter
from offerflow_contract.envelope import Envelope, wrap
from offerflow_contract.events import (
    CertificationFailed,
    OfferSnapshot,
    PublishCanceled,
    Reason,
    ValidationPassed,
)

SNAP = OfferSnapshot(offer_version=1, definition={}, notification_emails=["a@b.example"])


def passed(run: str) -> Envelope:
    return wrap(ValidationPassed(offer=SNAP), offer_id="o", publisher_id="p", run_id=run, producer="validation")


def letter(env: Envelope, offset: int, consumer: str = "certification") -> Record:
    dl = DeadLetter(topic="offerflow.validation", partition=0, offset=offset, key=b"o", value=encode(env),
                    error_class="KeyError", error_message="x", consumer=consumer)
    return Record(dl.dlq_topic, 0, offset, 0, b"o", encode(env), dl.headers())


def on_topic(env: Envelope, topic: str = "offerflow.certification") -> Record:
    return Record(topic, 0, 0, 0, b"o", encode(env), [])


def gave_up(cause: Envelope) -> Envelope:
    failed = CertificationFailed(summary="s", reasons=[Reason(code="internal-error", message="m")],
                                 dead_letter="offerflow.validation.dlq <- offerflow.validation[0]@1")
    return cause.follow(failed, producer="certification")


def test_a_letter_whose_stage_already_failed_the_run_for_it_is_skipped() -> None:
    cause = passed("r1")
    reasons = ended_runs([letter(cause, 1)], [on_topic(gave_up(cause))])
    assert list(reasons) == [("offerflow.validation.dlq", 0, 1)]
    assert "already failed for this dead letter" in reasons[("offerflow.validation.dlq", 0, 1)]


def test_a_letter_of_a_run_that_ended_otherwise_is_skipped_with_what_ended_it() -> None:
    cause = passed("r2")
    canceled = cause.follow(PublishCanceled(notification_emails=[]), producer="status-api")
    reasons = ended_runs([letter(cause, 5)], [on_topic(canceled, "offerflow.publishing")])
    assert "has ended (offer.publish_canceled" in reasons[("offerflow.validation.dlq", 0, 5)]


def test_letters_of_running_runs_and_of_non_stage_consumers_are_replayed() -> None:
    running, ended = passed("r3"), passed("r4")
    history = [on_topic(gave_up(ended)), on_topic(passed("r3"), "offerflow.validation")]
    # The notifier's and the projection's letters are how a failed run's mail and status get through.
    letters = [letter(running, 7), letter(ended, 8, consumer="notifier"),
               letter(ended, 9, consumer="status-projection")]
    assert ended_runs(letters, history) == {}


def test_a_letter_that_is_not_an_event_is_never_skipped() -> None:
    raw = Record("offerflow.validation.dlq", 0, 3, 0, b"o", b"{not json",
                 [("offerflow.dlq.consumer", b"certification")])
    assert ended_runs([raw], [on_topic(gave_up(passed("r5")))]) == {}


def test_staging_letters_of_ended_runs_are_skipped_and_packaging_waits_on_staging() -> None:
    from offerflow_cli.ops_dlq import RUN_INPUTS, RUN_TOPICS
    from offerflow_contract.events import ProvisioningPassed, StagingPassed
    from offerflow_contract.topics import STAGING

    assert RUN_INPUTS["staging"] == {ProvisioningPassed.event_type}
    assert StagingPassed.event_type in RUN_INPUTS["packaging"] and STAGING.name in RUN_TOPICS
    cause = wrap(ProvisioningPassed(offer=SNAP, disks=[], replicas=[]), offer_id="o", publisher_id="p", run_id="r6",
                 producer="provisioning")
    canceled = cause.follow(PublishCanceled(notification_emails=[]), producer="status-api")
    reasons = ended_runs([letter(cause, 11, consumer="staging")], [on_topic(canceled, "offerflow.publishing")])
    assert "has ended (offer.publish_canceled" in reasons[("offerflow.validation.dlq", 0, 11)]
