"""What a handler emits: the outbox of one incoming event, and the sinks it hands records to.

Kafka (``kafka.KafkaSink``, ``worker.FaustSink``) in the services, a list (:class:`MemorySink`) in unit tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol

from offerflow_contract.codec import Headers, decode, encode, headers_for
from offerflow_contract.envelope import Envelope, Event, stable_event_id


class Sink(Protocol):
    """Where a service's records go: Kafka in production, a list in unit tests."""

    async def send(self, topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        """Send and wait for the broker's acknowledgement."""
        ...

    async def enqueue(self, topic: str, key: bytes | None, value: bytes | None,
                      headers: Headers) -> Awaitable[object]:
        """Hand the record to the producer (in order) and return its acknowledgement, to await later."""
        ...


@dataclass
class MemorySink:
    records: list[tuple[str, bytes | None, bytes | None, Headers]] = field(default_factory=list)

    async def send(self, topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        self.records.append((topic, key, value, headers))

    async def enqueue(self, topic: str, key: bytes | None, value: bytes | None,
                      headers: Headers) -> Awaitable[object]:
        await self.send(topic, key, value, headers)
        done: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        done.set_result(None)  # a list takes the record at once: already acknowledged
        return done

    def envelopes(self, topic: str | None = None) -> list[Envelope]:
        return [decode(v) for t, _, v, _ in self.records if (topic is None or t == topic) and v is not None]

    def events(self, topic: str | None = None) -> list[Event]:
        return [e.event() for e in self.envelopes(topic)]


class Outbox:
    """Emits events caused by one incoming event.

    Event ids are derived from the cause, so a redelivered input re-emits the *same* events and the
    consumers' dedupe by event id makes the repeat harmless. Events are handed to the producer in order and
    their acknowledgements awaited together by ``flush()``, which the dispatcher calls before the input counts as
    processed (and its offset is committed): waiting for each event's acknowledgement before sending the next
    cost a broker round trip per event, and bought nothing, since nothing is committed before the flush.
    """

    def __init__(self, sink: Sink, topic: str, producer: str, cause: Envelope, traceparent: str | None):
        self._sink = sink
        self._topic = topic
        self._producer = producer
        self.cause = cause
        self._traceparent = traceparent
        self.sent: list[Envelope] = []
        self._unacknowledged: list[Awaitable[object]] = []

    async def emit(self, event: Event, *, discriminator: str = "", run_id: str | None = None) -> Envelope:
        """``run_id`` names another run than the cause's (a draft saved while a run's preview is open)."""
        env = self.cause.follow(event, producer=self._producer, run_id=run_id)
        eid = stable_event_id(self.cause.event_id, self._producer, event.event_type, discriminator)
        env = env.model_copy(update={"event_id": eid})
        ack = await self._sink.enqueue(self._topic, env.offer_id.encode(), encode(env),
                                       headers_for(env, self._traceparent))
        self._unacknowledged.append(ack)
        self.sent.append(env)
        if len(self._unacknowledged) >= 64:  # bounded: a handler emitting many events waits now and then
            await self.flush()
        return env

    async def flush(self) -> None:
        """Wait until the broker acknowledged every event emitted so far; raises if one was not."""
        pending, self._unacknowledged = self._unacknowledged, []
        if pending:
            await asyncio.gather(*pending)
