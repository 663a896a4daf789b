from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest

from offerflow_contract.codec import encode
from offerflow_contract.envelope import Envelope, Event, wrap
from offerflow_notifier import bootstrap, handlers
from offerflow_notifier.adapters.ledger import MemoryLedger
from offerflow_notifier.adapters.mailer import MemoryMailer
from offerflow_notifier.delivery import Notifier
from offerflow_shared import service
from offerflow_shared.outbox import MemorySink
from offerflow_shared.runtime import Dispatcher, Incoming, RetryPolicy

PUBLIC_URL = "https://portal.example.test"
SENDER = "Offerflow <noreply@offerflow.local>"

Deliver = Callable[[Envelope], Awaitable[None]]


@pytest.fixture
def mailer() -> MemoryMailer:
    return MemoryMailer()


@pytest.fixture
def ledger() -> MemoryLedger:
    return MemoryLedger()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def notifier(mailer: MemoryMailer, ledger: MemoryLedger, sleeps: list[float]) -> Notifier:
    async def sleep(delay: float) -> None:
        sleeps.append(delay)

    return Notifier(mailer=mailer, ledger=ledger, sender=SENDER, public_url=PUBLIC_URL,
                    retry=RetryPolicy(attempts=3, first_delay=1.0, max_delay=10.0, jitter=0.0), sleep=sleep)


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def dispatcher(notifier: Notifier, sink: MemorySink) -> Dispatcher:
    return Dispatcher(service=bootstrap.SPEC.name, out_topic=bootstrap.SPEC.emits,
                      handlers=service.bind(handlers.HANDLERS, notifier),
                      sink=sink, retry=RetryPolicy(attempts=2, first_delay=0.0, max_delay=0.0))


def envelope(event: Event, *, offer_id: str = "contoso-vm", run_id: str | None = "run-42") -> Envelope:
    return wrap(event, offer_id=offer_id, publisher_id="contoso", run_id=run_id, producer="test",
                event_id=uuid.uuid4())


def incoming(env: Envelope, offset: int = 0) -> Incoming:
    return Incoming("offerflow.test", 0, offset, env.offer_id.encode(), encode(env))


@pytest.fixture
def deliver(dispatcher: Dispatcher) -> Deliver:
    async def run(env: Envelope) -> None:
        await dispatcher.process(incoming(env))

    return run
