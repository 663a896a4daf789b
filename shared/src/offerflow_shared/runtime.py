"""The one message loop every service shares: decode → handler → emit, with dead letters and retries.

What a handler emits goes through :mod:`offerflow_shared.outbox`.

Agents stay thin: they turn a Kafka record into :class:`Incoming` and hand it here, so the
behaviour under bad input and transient failure is the same in every service and is unit-tested
once, with the in-memory sink.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from offerflow_contract.codec import Headers, decode, header
from offerflow_contract.dlq import DeadLetter
from offerflow_contract.envelope import ContractError, E, Envelope, Event
from offerflow_contract.topics import DLQ_SUFFIX
from offerflow_shared.errors import is_transient
from offerflow_shared.failures import INTERNAL_ERROR, STEP_TIMED_OUT, FailureFactory, GaveUp
from offerflow_shared.faults import NO_FAULTS, Faults
from offerflow_shared.logs import bind
from offerflow_shared.metrics import DispatchMetrics
from offerflow_shared.outbox import Outbox, Sink

log = logging.getLogger("offerflow.runtime")


@dataclass(frozen=True)
class Incoming:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = field(default_factory=list)


Handler = Callable[[Envelope, Event, Outbox], Awaitable[None]]


@dataclass
class RetryPolicy:
    """Backoff for transient errors only; deterministic ones are given up on at once.

    About two minutes in all (84 to 127 s of sleeps with the defaults): longer than a broker or database restart,
    so those never dead-letter an event. Each delay is drawn within ±``jitter`` of its exponential step, so
    workers that failed together (the database went away under all of them) do not retry in lockstep.
    """

    attempts: int = 12
    first_delay: float = 0.5
    max_delay: float = 15.0
    jitter: float = 0.2

    def step(self, attempt: int) -> float:
        return float(min(self.max_delay, self.first_delay * (2**attempt)))

    def delay(self, attempt: int, draw: Callable[[], float] = random.random) -> float:
        return self.step(attempt) * (1.0 - self.jitter + 2.0 * self.jitter * draw())

    def budget(self) -> tuple[float, float]:
        """The least and the most time all retries of one input sleep."""
        total = sum(self.step(a) for a in range(self.attempts - 1))
        return total * (1.0 - self.jitter), total * (1.0 + self.jitter)


class StepTimedOut(Exception):
    """The handler ran past the step's hard time limit and was cancelled."""


def dead_letter_ref(msg: Incoming) -> str:
    return f"{msg.topic}{DLQ_SUFFIX} <- {msg.topic}[{msg.partition}]@{msg.offset}"


class Dispatcher:
    """Decode → handler → emit for one service.

    When it gives up on an input (a deterministic error, retries exhausted, a payload that does not decode,
    the step's time limit) the input is dead-lettered for ops and, for a stage (``failure`` given), the
    stage's failed event is emitted so the run ends and the publisher hears about it.
    """

    def __init__(
        self,
        *,
        service: str,
        out_topic: str,
        handlers: Mapping[str, Handler],
        sink: Sink,
        retry: RetryPolicy | None = None,
        metrics: DispatchMetrics | None = None,
        failure: FailureFactory | None = None,
        step_timeout: float | None = None,
        faults: Faults | None = None,
        transient: Callable[[BaseException], bool] = is_transient,
        after_failure: Callable[[Envelope], Awaitable[None]] | None = None,
    ) -> None:
        self.service = service
        self.out_topic = out_topic
        self.handlers = dict(handlers)
        self.sink = sink
        self.retry = retry or RetryPolicy()
        self.metrics = metrics or DispatchMetrics()
        self.failure = failure
        self.step_timeout = step_timeout
        self.faults = faults or NO_FAULTS
        self.transient = transient
        # The stage's own clean-up once it has ended a run itself (e.g. packaging closes the run's preview links).
        self.after_failure = after_failure
        self.processed = 0
        self.dead_lettered = 0
        self.failed_runs = 0

    async def process(self, msg: Incoming) -> None:
        try:
            env = decode(msg.value)
        except ContractError as exc:
            await self.dead_letter(msg, exc)
            return
        traceparent = header(msg.headers, "traceparent")
        with bind(offer_id=env.offer_id, run_id=env.run_id, correlation_id=env.correlation_id):
            try:
                event = env.event()
            except ContractError as exc:
                # The envelope names the run, so the run can still be ended even though its payload is bad.
                await self.give_up(msg, env, exc, GaveUp(INTERNAL_ERROR, dead_letter_ref(msg)), traceparent)
                return
            handler = self.handlers.get(env.event_type)
            if handler is None:
                return  # a known event this service does not act on
            await self._run(msg, env, event, handler, traceparent)

    async def _run(self, msg: Incoming, env: Envelope, event: Event, handler: Handler,
                   traceparent: str | None) -> None:
        began = time.monotonic()
        deadline = None if self.step_timeout is None else asyncio.get_running_loop().time() + self.step_timeout
        # One limit over every attempt and every backoff sleep: the step as the publisher sees it. Cancelling
        # stops the coroutine; work it handed to a thread (asyncio.to_thread) runs out in the background and its
        # result is dropped, so the handlers' own I/O bounds stay what keeps threads short.
        scope = asyncio.timeout_at(deadline)
        try:
            async with scope:
                error = await self._attempts(env, event, handler, traceparent)
        except TimeoutError:
            if not scope.expired():
                raise
            limit = float(self.step_timeout or 0)
            log.error("handler %s ran past the step limit of %ss; cancelled", env.event_type, limit)
            await self.give_up(msg, env, StepTimedOut(f"{env.event_type} ran past the step limit of {limit:g} s"),
                               GaveUp(STEP_TIMED_OUT, dead_letter_ref(msg), limit), traceparent,
                               time.monotonic() - began)
            return
        if error is None:
            self.processed += 1
            self.metrics.processed(self.service, env.event_type, time.monotonic() - began)
            return
        await self.give_up(msg, env, error, GaveUp(INTERNAL_ERROR, dead_letter_ref(msg)), traceparent,
                           time.monotonic() - began)

    async def _attempts(self, env: Envelope, event: Event, handler: Handler,
                        traceparent: str | None) -> Exception | None:
        """Run the handler until it succeeds (None) or there is no point trying again (the last error)."""
        for attempt in range(self.retry.attempts):
            outbox = Outbox(self.sink, self.out_topic, self.service, env, traceparent)
            try:
                self.faults.check(env.offer_id)
                try:
                    await handler(env, event, outbox)
                finally:
                    await outbox.flush()  # even when the handler failed: what it emitted is on its way
                return None
            except Exception as exc:
                transient = self.transient(exc)
                last = not transient or attempt == self.retry.attempts - 1
                log.warning("handler %s failed (attempt %d/%d, %s): %r", env.event_type, attempt + 1,
                            self.retry.attempts, "transient" if transient else "deterministic", exc,
                            exc_info=last)
                if last:
                    return exc
                await asyncio.sleep(self.retry.delay(attempt))
        raise AssertionError("unreachable: the last attempt returns")  # pragma: no cover

    async def give_up(self, msg: Incoming, env: Envelope, exc: BaseException, why: GaveUp,
                      traceparent: str | None = None, seconds: float | None = None) -> None:
        """Dead-letter the input and, for a stage, end its run with the stage's failed event."""
        await self.dead_letter(msg, exc, env.event_type, seconds)
        if self.failure is None:
            return
        failed = self.failure(env, why)
        if failed is None:
            return
        # Derived from the cause like every emitted event: a redelivered input gives the same failure id.
        out = Outbox(self.sink, self.out_topic, self.service, env, traceparent)
        sent = await out.emit(failed, discriminator="gave-up")
        await out.flush()
        self.failed_runs += 1
        log.error("ended run %s with %s (%s; %s)", env.run_id, sent.event_type, why.code, why.dead_letter)
        if self.after_failure is not None:
            try:
                await self.after_failure(sent)
            except Exception:  # the run has ended either way; the clean-up is best effort, and said so
                log.exception("clean-up after ending run %s failed", env.run_id)

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
