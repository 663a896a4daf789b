"""The one message loop every service shares: decode → handler → emit, with dead letters and retries.

Agents stay thin: they turn a Kafka record into :class:`Incoming` and hand it here, so the
behaviour under bad input and transient failure is the same in every service and is unit-tested
once, with the in-memory sink.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from offerflow_shared.codec import Headers, decode, encode, header, headers_for
from offerflow_shared.dlq import DeadLetter
from offerflow_shared.envelope import ContractError, E, Envelope, Event, stable_event_id
from offerflow_shared.logs import bind
from offerflow_shared.metrics import DispatchMetrics

log = logging.getLogger("offerflow.runtime")


@dataclass(frozen=True)
class Incoming:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = field(default_factory=list)


class Sink(Protocol):
    """Where a service's records go: Kafka in production, a list in unit tests."""

    async def send(self, topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None: ...


@dataclass
class MemorySink:
    records: list[tuple[str, bytes | None, bytes | None, Headers]] = field(default_factory=list)

    async def send(self, topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        self.records.append((topic, key, value, headers))

    def envelopes(self, topic: str | None = None) -> list[Envelope]:
        return [decode(v) for t, _, v, _ in self.records if (topic is None or t == topic) and v is not None]

    def events(self, topic: str | None = None) -> list[Event]:
        return [e.event() for e in self.envelopes(topic)]


class Outbox:
    """Emits events caused by one incoming event.

    Event ids are derived from the cause, so a redelivered input re-emits the *same* events and the
    consumers' dedupe by event id makes the repeat harmless.
    """

    def __init__(self, sink: Sink, topic: str, producer: str, cause: Envelope, traceparent: str | None):
        self._sink = sink
        self._topic = topic
        self._producer = producer
        self.cause = cause
        self._traceparent = traceparent
        self.sent: list[Envelope] = []

    async def emit(self, event: Event, *, discriminator: str = "") -> Envelope:
        env = self.cause.follow(event, producer=self._producer)
        eid = stable_event_id(self.cause.event_id, self._producer, event.event_type, discriminator)
        env = env.model_copy(update={"event_id": eid})
        await self._sink.send(self._topic, env.offer_id.encode(), encode(env), headers_for(env, self._traceparent))
        self.sent.append(env)
        return env


Handler = Callable[[Envelope, Event, Outbox], Awaitable[None]]


@dataclass
class RetryPolicy:
    # About two minutes in all: longer than a broker or database restart, so those never dead-letter an event.
    attempts: int = 12
    first_delay: float = 0.5
    max_delay: float = 15.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_delay, self.first_delay * (2**attempt)))


class Dispatcher:
    def __init__(
        self,
        *,
        service: str,
        out_topic: str,
        handlers: Mapping[str, Handler],
        sink: Sink,
        retry: RetryPolicy | None = None,
        metrics: DispatchMetrics | None = None,
    ) -> None:
        self.service = service
        self.out_topic = out_topic
        self.handlers = dict(handlers)
        self.sink = sink
        self.retry = retry or RetryPolicy()
        self.metrics = metrics or DispatchMetrics()
        self.processed = 0
        self.dead_lettered = 0

    async def process(self, msg: Incoming) -> None:
        try:
            env = decode(msg.value)
            event = env.event()
        except ContractError as exc:
            await self.dead_letter(msg, exc)
            return
        handler = self.handlers.get(env.event_type)
        if handler is None:
            return  # a known event this service does not act on
        traceparent = header(msg.headers, "traceparent")
        began = time.monotonic()
        with bind(offer_id=env.offer_id, run_id=env.run_id, correlation_id=env.correlation_id):
            for attempt in range(self.retry.attempts):
                outbox = Outbox(self.sink, self.out_topic, self.service, env, traceparent)
                try:
                    await handler(env, event, outbox)
                    self.processed += 1
                    self.metrics.processed(self.service, env.event_type, time.monotonic() - began)
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    last = attempt == self.retry.attempts - 1
                    log.warning(
                        "handler %s failed (attempt %d/%d): %r",
                        env.event_type,
                        attempt + 1,
                        self.retry.attempts,
                        exc,
                        exc_info=last,
                    )
                    if last:
                        await self.dead_letter(msg, exc, env.event_type, time.monotonic() - began)
                        return
                    await asyncio.sleep(self.retry.delay(attempt))

    async def dead_letter(self, msg: Incoming, exc: BaseException, event_type: str | None = None,
                          seconds: float | None = None) -> None:
        letter = DeadLetter(
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            key=msg.key,
            value=msg.value,
            error_class=type(exc).__name__,
            error_message=str(exc),
            consumer=self.service,
        )
        log.error("dead-lettered %s[%d]@%d: %s", msg.topic, msg.partition, msg.offset, exc)
        await self.sink.send(letter.dlq_topic, msg.key, msg.value, letter.headers())
        self.dead_lettered += 1
        self.metrics.dead_lettered(self.service, msg.topic, event_type, seconds)


def handles(
    cls: type[E], fn: Callable[[Envelope, E, Outbox], Awaitable[None]]
) -> tuple[str, Handler]:
    """Pair a typed handler with its event type, checking the payload's class at the boundary."""

    async def handler(env: Envelope, event: Event, out: Outbox) -> None:
        if not isinstance(event, cls):
            raise ContractError(f"{env.event_type} decoded to {type(event).__name__}, not {cls.__name__}")
        await fn(env, event, out)

    return cls.event_type, handler
