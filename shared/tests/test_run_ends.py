"""A stage that gives up on an input still ends the run: dead letter for ops, failed event for the publisher."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from offerflow_contract import codec
from offerflow_contract.envelope import Envelope, Event, wrap
from offerflow_contract.events import (
    CertificationFailed,
    GoLiveFailed,
    GoLiveRequested,
    OfferSnapshot,
    PublishCanceled,
    ValidationPassed,
)
from offerflow_shared.failures import INTERNAL_ERROR, STEP_TIMED_OUT, stage_failures
from offerflow_shared.faults import Faults
from offerflow_shared.outbox import MemorySink, Outbox
from offerflow_shared.runtime import Dispatcher, Handler, Incoming, RetryPolicy
from offerflow_shared.settings import CommonSettings

EMAILS = ["pub@contoso.example", "ops@contoso.example"]
FAILURES = stage_failures({ValidationPassed.event_type: CertificationFailed,
                           GoLiveRequested.event_type: GoLiveFailed})


def passed() -> Envelope:
    snap = OfferSnapshot(offer_version=2, definition={}, notification_emails=EMAILS)
    return wrap(ValidationPassed(offer=snap), offer_id="demo", publisher_id="p", run_id="run-1", producer="test")


def incoming(value: bytes | None, offset: int = 17) -> Incoming:
    return Incoming("offerflow.validation", 3, offset, b"demo", value, [])


def stage(handler: Handler, sink: MemorySink, **kw: Any) -> Dispatcher:
    return Dispatcher(service="certification", out_topic="offerflow.certification",
                      handlers={ValidationPassed.event_type: handler,
                                GoLiveRequested.event_type: handler,
                                PublishCanceled.event_type: handler},
                      sink=sink, failure=FAILURES, retry=RetryPolicy(attempts=3, first_delay=0.001), **kw)


def failing(exc: Exception, calls: list[int]) -> Handler:
    async def handler(env: Envelope, event: Event, out: Outbox) -> None:
        calls.append(1)
        raise exc
    return handler


async def test_a_deterministic_error_dead_letters_at_once_and_fails_the_run() -> None:
    sink, calls = MemorySink(), list[int]()
    cause = passed()
    d = stage(failing(KeyError("secret internals"), calls), sink)
    await d.process(incoming(codec.encode(cause)))
    assert calls == [1]  # no retries for a bug
    assert [t for t, *_ in sink.records] == ["offerflow.validation.dlq", "offerflow.certification"]
    [env] = sink.envelopes("offerflow.certification")
    failed = env.event()
    assert isinstance(failed, CertificationFailed)
    assert env.run_id == "run-1" and env.causation_id == str(cause.event_id)
    [reason] = failed.reasons
    assert reason.code == INTERNAL_ERROR
    assert "on our side" in reason.message and "Publish again" in reason.message
    assert "support request" in reason.message
    assert "secret internals" not in reason.message + failed.summary and "KeyError" not in reason.message
    assert failed.notification_emails == EMAILS
    assert failed.dead_letter == "offerflow.validation.dlq <- offerflow.validation[3]@17"


async def test_transient_errors_fail_the_run_only_after_the_retries() -> None:
    sink, calls = MemorySink(), list[int]()
    d = stage(failing(ConnectionResetError("db restarting"), calls), sink)
    await d.process(incoming(codec.encode(passed())))
    assert len(calls) == 3
    [failed] = sink.events("offerflow.certification")
    assert isinstance(failed, CertificationFailed) and failed.reasons[0].code == INTERNAL_ERROR


async def test_a_redelivered_input_gives_the_same_failure_event() -> None:
    sink = MemorySink()
    d = stage(failing(ValueError("bug"), []), sink)
    cause = codec.encode(passed())
    await d.process(incoming(cause, offset=17))
    await d.process(incoming(cause, offset=99))  # e.g. replayed from the dead-letter topic
    first, second = sink.envelopes("offerflow.certification")
    assert first.event_id == second.event_id


async def test_a_payload_that_does_not_decode_still_ends_its_run_with_the_publishers_emails() -> None:
    sink, calls = MemorySink(), list[int]()
    raw = json.loads(codec.encode(passed()))
    raw["payload"]["offer"]["offer_version"] = "not a number"
    d = stage(failing(ValueError("never called"), calls), sink)
    await d.process(incoming(json.dumps(raw).encode()))
    assert calls == []
    dlq = [r for r in sink.records if r[0] == "offerflow.validation.dlq"]
    assert len(dlq) == 1 and b"bad payload" in dict(dlq[0][3])["__connect.errors.exception.message"]
    [env] = sink.envelopes("offerflow.certification")
    failed = env.event()
    assert isinstance(failed, CertificationFailed) and failed.notification_emails == EMAILS
    assert env.run_id == "run-1"


async def test_a_handler_past_the_step_limit_is_cancelled_and_the_run_fails_step_timed_out() -> None:
    sink = MemorySink()
    cancelled = asyncio.Event()

    async def slow(env: Envelope, event: Event, out: Outbox) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    d = stage(slow, sink, step_timeout=0.05)
    await asyncio.wait_for(d.process(incoming(codec.encode(passed()))), 5)
    assert cancelled.is_set()
    [env] = sink.envelopes("offerflow.certification")
    failed = env.event()
    assert isinstance(failed, CertificationFailed)
    [reason] = failed.reasons
    assert reason.code == STEP_TIMED_OUT and "0.05 seconds" in reason.message and "Publish again" in reason.message
    dlq = [r for r in sink.records if r[0] == "offerflow.validation.dlq"]
    assert dict(dlq[0][3])["__connect.errors.exception.class.name"] == b"StepTimedOut"


async def test_the_step_limit_also_bounds_the_backoff_between_retries() -> None:
    sink, calls = MemorySink(), list[int]()
    d = Dispatcher(service="certification", out_topic="offerflow.certification",
                   handlers={ValidationPassed.event_type: failing(ConnectionResetError(), calls)},
                   sink=sink, failure=FAILURES, retry=RetryPolicy(first_delay=10), step_timeout=0.05)
    await asyncio.wait_for(d.process(incoming(codec.encode(passed()))), 5)
    assert calls == [1]
    [failed] = sink.events("offerflow.certification")
    assert isinstance(failed, CertificationFailed) and failed.reasons[0].code == STEP_TIMED_OUT


async def test_a_handlers_own_timeout_is_a_transient_error_not_the_step_limit() -> None:
    sink, calls = MemorySink(), list[int]()
    d = stage(failing(TimeoutError("read timed out"), calls), sink, step_timeout=30)
    await d.process(incoming(codec.encode(passed())))
    assert len(calls) == 3
    [failed] = sink.events("offerflow.certification")
    assert isinstance(failed, CertificationFailed) and failed.reasons[0].code == INTERNAL_ERROR


async def test_go_live_failure_takes_its_emails_from_the_request() -> None:
    sink = MemorySink()
    cause = wrap(GoLiveRequested(offer_version=2, notification_emails=EMAILS, requested_by="x"),
                 offer_id="demo", publisher_id="p", run_id="run-1", producer="test")
    d = stage(failing(TypeError("bug"), []), sink)
    await d.process(incoming(codec.encode(cause)))
    [failed] = sink.events("offerflow.certification")
    assert isinstance(failed, GoLiveFailed) and failed.notification_emails == EMAILS


async def test_inputs_outside_the_failure_map_and_non_stage_services_only_dead_letter() -> None:
    sink = MemorySink()
    canceled = wrap(PublishCanceled(notification_emails=EMAILS), offer_id="demo", publisher_id="p",
                    run_id="run-1", producer="test")
    await stage(failing(TypeError("bug"), []), sink).process(incoming(codec.encode(canceled)))
    plain = Dispatcher(service="notifier", out_topic="offerflow.notifications",
                       handlers={ValidationPassed.event_type: failing(TypeError("bug"), [])},
                       sink=sink)
    await plain.process(incoming(codec.encode(passed())))
    assert [t for t, *_ in sink.records] == ["offerflow.validation.dlq", "offerflow.validation.dlq"]


async def test_an_armed_fault_fails_the_offers_inputs_before_the_handler_until_disarmed(tmp_path: Path) -> None:
    sink, calls = MemorySink(), list[int]()

    async def ok(env: Envelope, event: Event, out: Outbox) -> None:
        calls.append(1)

    d = stage(ok, sink, faults=Faults(tmp_path, "certification"))
    (tmp_path / "certification").write_text("other-offer\ndemo  # armed for this test\n")
    await d.process(incoming(codec.encode(passed())))
    assert calls == []
    [failed] = sink.events("offerflow.certification")
    assert isinstance(failed, CertificationFailed) and failed.reasons[0].code == INTERNAL_ERROR
    (tmp_path / "certification").unlink()
    await d.process(incoming(codec.encode(passed())))
    assert calls == [1]


def test_fault_injection_is_refused_in_production(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OFFERFLOW_FAULTS_DIR", str(tmp_path))
    monkeypatch.setenv("OFFERFLOW_ENVIRONMENT", "production")
    with pytest.raises(ValueError, match="OFFERFLOW_FAULTS_DIR"):
        CommonSettings()
    monkeypatch.setenv("OFFERFLOW_ENVIRONMENT", "test")
    assert CommonSettings().faults_dir == tmp_path
    monkeypatch.delenv("OFFERFLOW_FAULTS_DIR")
    monkeypatch.delenv("OFFERFLOW_ENVIRONMENT")
    assert CommonSettings().faults_dir is None and CommonSettings().environment == "development"


async def test_the_stages_clean_up_runs_after_the_failure_and_cannot_undo_it() -> None:
    sink, seen = MemorySink(), list[Envelope]()

    async def clean_up(failed: Envelope) -> None:
        seen.append(failed)
        raise RuntimeError("clean-up store down")

    d = stage(failing(KeyError("bug"), []), sink, after_failure=clean_up)
    await d.process(incoming(codec.encode(passed())))
    [failed] = [e for e in sink.envelopes("offerflow.certification")]
    assert seen == [failed] and failed.run_id == "run-1"
    assert d.failed_runs == 1 and d.dead_lettered == 1  # the run ended and the letter is there all the same
