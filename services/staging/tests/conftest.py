from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from offerflow_contract.codec import encode
from offerflow_contract.envelope import Envelope, Event, wrap
from offerflow_contract.events import CertifiedDisk, OfferSnapshot, ProvisioningPassed, Replica
from offerflow_shared import service
from offerflow_shared.outbox import MemorySink
from offerflow_shared.runtime import Dispatcher, Incoming, RetryPolicy
from offerflow_staging import bootstrap, handlers
from offerflow_staging.adapters.fake import FakeBooter, MemoryReplicas
from offerflow_staging.adapters.results import MemoryResultStore

REGIONS = ("eastus", "westeurope", "japaneast")  # the region map's order
EMAILS = ["ops@contoso.example"]


def image(plan: str) -> bytes:
    return f"disk image of {plan}".encode() * 100


def location(region: str, data: bytes) -> str:
    return f"https://{region}.store.example/offerflow-{region}/content/sha256/{hashlib.sha256(data).hexdigest()}"


def passed(plans: Sequence[str] = ("gold",), *, regions: Sequence[str] = ("westeurope", "eastus"),
           run_id: str = "run-1", data_disk: bool = True) -> Envelope:
    """provisioning.passed of ``plans`` (each an OS disk, and a data disk), replicated to ``regions``."""
    disks: list[CertifiedDisk] = []
    replicas: list[Replica] = []
    for plan in plans:
        data = image(plan)
        sha = hashlib.sha256(data).hexdigest()
        for name in ("os", "lun0") if data_disk else ("os",):
            disks.append(CertifiedDisk(plan_id=plan, image_version="1.0.0", disk=name, url=f"https://src/{plan}",
                                       sha256=sha, size_bytes=len(data)))
            replicas += [Replica(region=r, plan_id=plan, image_version="1.0.0", disk=name, location=location(r, data),
                                 sha256=sha) for r in regions]
    offer = OfferSnapshot(offer_version=2, definition={"offer": {}}, notification_emails=EMAILS)
    return wrap(ProvisioningPassed(offer=offer, disks=disks, replicas=replicas), offer_id="web-server",
                publisher_id="contoso", run_id=run_id, producer="provisioning")


def command(event: Event, run_id: str) -> Envelope:
    return wrap(event, offer_id="web-server", publisher_id="contoso", run_id=run_id, producer="status-api")


def incoming(env: Envelope, topic: str = "offerflow.provisioning") -> Incoming:
    return Incoming(topic, 0, 1, env.offer_id.encode(), encode(env))


@dataclass
class Kit:
    booter: FakeBooter
    replicas: MemoryReplicas
    results: MemoryResultStore
    deps: handlers.Deps
    sink: MemorySink
    boots: Dispatcher  # the provisioning topic's dispatcher
    control: Dispatcher  # the publishing topic's

    def events(self) -> list[Event]:
        return self.sink.events("offerflow.staging")


def make(tmp_path: Path, *, enforce: bool = True, step_timeout: float | None = None,
         booter: FakeBooter | None = None) -> Kit:
    replicas = MemoryReplicas(tmp_path / "replicas")
    for plan in ("gold", "silver", "bronze"):
        for r in REGIONS:
            replicas.blobs[location(r, image(plan))] = image(plan)
    booter = booter or FakeBooter()
    results = MemoryResultStore()
    deps = handlers.Deps(booter, replicas, results, list(REGIONS), enforce=enforce)
    sink = MemorySink()
    boots = service.dispatcher(bootstrap.BOOT_SPEC, handlers.BOOTS, deps, sink, step_timeout=step_timeout)
    boots.retry = RetryPolicy(attempts=1)
    control = service.dispatcher(bootstrap.CONTROL_SPEC, handlers.CONTROL, deps, sink)
    return Kit(booter, replicas, results, deps, sink, boots, control)


@pytest.fixture
def kit() -> ModuleType:
    """This module's helpers (test modules cannot import conftest under importlib mode)."""
    return sys.modules[__name__]
