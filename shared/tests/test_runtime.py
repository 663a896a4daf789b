from __future__ import annotations

import asyncio

from offerflow_contract import codec
from offerflow_contract.envelope import Envelope, Event, wrap
from offerflow_contract.events import CancelRequested, ValidationStarted
from offerflow_shared.outbox import MemorySink, Outbox
from offerflow_shared.runtime import Dispatcher, Incoming, RetryPolicy, handles


def incoming(value: bytes | None, topic: str = "offerflow.publishing") -> Incoming:
    return Incoming(topic, 3, 42, b"demo", value, [])


def cancel_env() -> Envelope:
    return wrap(CancelRequested(requested_by="x"), offer_id="demo", publisher_id="p", run_id="r",
                producer="test")


async def test_undecodable_message_goes_to_the_topic_dlq_with_connect_headers() -> None:
    sink = MemorySink()
    d = Dispatcher(service="svc", out_topic="out", handlers={}, sink=sink)
    await d.process(incoming(b"\x00garbage"))
    [(topic, key, value, headers)] = sink.records
    assert topic == "offerflow.publishing.dlq" and key == b"demo" and value == b"\x00garbage"
    h = dict(headers)
    assert h["__connect.errors.topic"] == b"offerflow.publishing"
    assert h["__connect.errors.partition"] == b"3" and h["__connect.errors.offset"] == b"42"
    assert b"not JSON" in h["__connect.errors.exception.message"]


async def test_events_without_a_handler_are_skipped_not_dead_lettered() -> None:
    sink = MemorySink()
    d = Dispatcher(service="svc", out_topic="out", handlers={}, sink=sink)
    await d.process(incoming(codec.encode(cancel_env())))
    assert sink.records == []


async def test_emitted_events_follow_the_cause_and_are_stable_across_redelivery() -> None:
    sink = MemorySink()

    async def handler(env: Envelope, event: CancelRequested, out: Outbox) -> None:
        await out.emit(ValidationStarted(message="m"))

    d = Dispatcher(service="svc", out_topic="out", handlers=dict([handles(CancelRequested, handler)]), sink=sink)
    cause = cancel_env()
    await d.process(incoming(codec.encode(cause)))
    await d.process(incoming(codec.encode(cause)))
    first, second = sink.envelopes("out")
    assert first.event_id == second.event_id
    assert first.causation_id == str(cause.event_id) and first.correlation_id == cause.correlation_id
    assert first.run_id == "r" and first.offer_id == "demo" and first.producer == "svc"


async def test_a_failing_handler_is_retried_then_dead_lettered() -> None:
    sink = MemorySink()
    calls = []

    async def handler(env: Envelope, event: Event, out: Outbox) -> None:
        calls.append(1)
        raise RuntimeError("database down")

    d = Dispatcher(service="svc", out_topic="out", handlers={CancelRequested.event_type: handler}, sink=sink,
                   retry=RetryPolicy(attempts=3, first_delay=0.001))
    await d.process(incoming(codec.encode(cancel_env())))
    assert len(calls) == 3
    [(topic, *_rest)] = sink.records
    assert topic == "offerflow.publishing.dlq"


async def test_a_transient_failure_recovers_without_dead_letter() -> None:
    sink = MemorySink()
    calls = []

    async def handler(env: Envelope, event: Event, out: Outbox) -> None:
        calls.append(1)
        if len(calls) < 2:
            raise RuntimeError("blip")
        await out.emit(ValidationStarted())

    d = Dispatcher(service="svc", out_topic="out", handlers={CancelRequested.event_type: handler}, sink=sink,
                   retry=RetryPolicy(attempts=3, first_delay=0.001))
    await d.process(incoming(codec.encode(cancel_env())))
    assert [t for t, *_ in sink.records] == ["out"]


class _LateAcks(MemorySink):
    """Records in order at once; acknowledges later, the first ``refuse`` acknowledgements as failures."""

    def __init__(self, refuse: int = 0) -> None:
        super().__init__()
        self.refuse, self.acks = refuse, []  # type: ignore[var-annotated]

    async def enqueue(self, topic, key, value, headers):  # type: ignore[no-untyped-def]
        await self.send(topic, key, value, headers)
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.acks.append(ack)
        if self.refuse:
            self.refuse -= 1
            asyncio.get_running_loop().call_later(0.01, ack.set_exception, ConnectionError("broker went away"))
        else:
            asyncio.get_running_loop().call_later(0.01, ack.set_result, None)
        return ack


async def test_events_are_sent_in_order_without_waiting_and_acknowledged_before_the_input_counts() -> None:
    sink = _LateAcks()

    async def handler(env: Envelope, event: CancelRequested, out: Outbox) -> None:
        for i in range(5):
            await out.emit(ValidationStarted(message=f"m{i}"), discriminator=str(i))
        assert not any(a.done() for a in sink.acks)  # none awaited one by one

    d = Dispatcher(service="svc", out_topic="out", handlers=dict([handles(CancelRequested, handler)]), sink=sink)
    await d.process(incoming(codec.encode(cancel_env())))
    assert [e.message for e in sink.events("out")] == [f"m{i}" for i in range(5)]  # type: ignore[attr-defined]
    assert all(a.done() for a in sink.acks) and d.processed == 1


async def test_an_event_the_broker_did_not_acknowledge_makes_the_input_retried() -> None:
    sink = _LateAcks(refuse=1)

    async def handler(env: Envelope, event: CancelRequested, out: Outbox) -> None:
        await out.emit(ValidationStarted(message="m"))

    d = Dispatcher(service="svc", out_topic="out", handlers=dict([handles(CancelRequested, handler)]), sink=sink,
                   retry=RetryPolicy(attempts=3, first_delay=0.01))
    await d.process(incoming(codec.encode(cancel_env())))
    first, second = sink.envelopes("out")
    assert first.event_id == second.event_id  # sent again, with the same id: consumers dedupe
    assert d.processed == 1 and d.dead_lettered == 0
