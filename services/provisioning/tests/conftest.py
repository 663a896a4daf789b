from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

import pytest

from offerflow_contract.codec import encode
from offerflow_contract.envelope import Envelope, wrap
from offerflow_contract.events import CertificationPassed, CertifiedDisk, OfferSnapshot
from offerflow_provisioning import handlers
from offerflow_provisioning.replicator import Replicator
from offerflow_shared import service
from offerflow_shared.outbox import MemorySink
from offerflow_shared.runtime import Dispatcher, Incoming, RetryPolicy

REGIONS = ("eastus", "westeurope", "japaneast")


def random_disk(size: int = 3 * 1024 * 1024 + 17) -> tuple[bytes, str]:
    data = os.urandom(size)
    return data, hashlib.sha256(data).hexdigest()


def certified(
    url: str, data: bytes, *, disk: str = "os", plan: str = "gold", version: str = "1.0.0"
) -> CertifiedDisk:
    return CertifiedDisk(
        plan_id=plan,
        image_version=version,
        disk=disk,
        url=url,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
    )


def passed_envelope(disks: Sequence[CertifiedDisk]) -> Envelope:
    offer = OfferSnapshot(
        offer_version=3, definition={"offer": {}}, notification_emails=["ops@contoso.example"]
    )
    return wrap(
        CertificationPassed(offer=offer, disks=list(disks)),
        offer_id="web-server",
        publisher_id="contoso",
        run_id="run-1",
        producer="certification",
    )


def incoming(env: Envelope) -> Incoming:
    return Incoming("offerflow.certification", 0, 7, env.offer_id.encode(), encode(env))


@pytest.fixture
def kit() -> ModuleType:
    """This module's helpers (test modules cannot import conftest under importlib mode)."""
    return sys.modules[__name__]


@pytest.fixture
def make_dispatcher() -> Callable[[Replicator, Sequence[str]], tuple[Dispatcher, MemorySink]]:
    def make(replicator: Replicator, regions: Sequence[str] = REGIONS) -> tuple[Dispatcher, MemorySink]:
        sink = MemorySink()
        dispatcher = Dispatcher(
            service="provisioning",
            out_topic="offerflow.provisioning",
            handlers=service.bind(handlers.HANDLERS, handlers.Deps(replicator, list(regions))),
            sink=sink,
            retry=RetryPolicy(attempts=1),
        )
        return dispatcher, sink

    return make
