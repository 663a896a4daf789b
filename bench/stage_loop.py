"""The bare baseline of ``pipeline.py``: the pipeline's stage work in ONE process, with no Kafka in between.

Each stage calls its service's own handler with the deps its bootstrap composes (the same source adapters,
replicator, region endpoints and page rendering), so the work per offer is exactly the services' work:
validate (the offer rules and its artifacts), certify (read, hash and test the disk), replicate (the Replicator
to every region endpoint) and render (listing, pages, assets, preview links). What is left out is what
Offerflow adds around that work: the broker between stages, the outbox, the status read model, dedupe, and the
databases (the certification reports and preview grants are kept in the services' in-memory stores instead).

Stages are connected by in-process queues and each runs as many offers at once as its service's
``concurrency`` setting, so the N offers flow through the stages as they do through the services.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offerflow_certification import bootstrap as cert_boot
from offerflow_certification import handlers as cert
from offerflow_certification.adapters.store import MemoryReportStore
from offerflow_certification.settings import Settings as CertSettings
from offerflow_contract import topics
from offerflow_contract.envelope import Envelope, wrap
from offerflow_contract.events import (
    CertificationPassed,
    OfferSnapshot,
    PreviewReady,
    ProvisioningPassed,
    PublishRequested,
    ValidationPassed,
)
from offerflow_packaging import bootstrap as pack_boot
from offerflow_packaging import handlers as pack
from offerflow_packaging.access import PreviewAccess
from offerflow_packaging.adapters.grants import MemoryGrantStore
from offerflow_packaging.adapters.pages import LocalPageStore
from offerflow_packaging.settings import Settings as PackSettings
from offerflow_provisioning import bootstrap as prov_boot
from offerflow_provisioning import handlers as prov
from offerflow_provisioning.settings import Settings as ProvSettings
from offerflow_shared.outbox import MemorySink, Outbox
from offerflow_shared.secrets import SecretBox
from offerflow_validation import bootstrap as val_boot
from offerflow_validation import handlers as val
from offerflow_validation.settings import Settings as ValSettings

Call = Callable[[Envelope, Outbox], Awaitable[None]]


@dataclass(frozen=True)
class Stage:
    name: str
    topic: str
    call: Call
    passed: type  # the event that moves the offer on; anything else ends it
    concurrency: int


@contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """The services' settings come from the environment: give them the one the stack gives the services."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def build_stages(env: Mapping[str, str], pages_root: Path) -> list[Stage]:
    """The four stages as the services' bootstraps compose them (stores kept in memory)."""
    with environment(env):
        vs, cs, ps, ks = ValSettings(), CertSettings(), ProvSettings(), PackSettings()
    vdeps = val.Deps(val_boot.build_fetcher(vs))
    cdeps = cert.Deps(cert_boot.build_source(cs), MemoryReportStore())
    pdeps = prov.Deps(prov_boot.build_replicator(ps), ps.regions.names)
    kdeps = pack.Deps(pages=LocalPageStore(pages_root), leads=pack_boot.build_leads(ks),
                      artifacts=pack_boot.build_artifacts(ks), storefront_url=ks.storefront_url,
                      access=PreviewAccess(ks.preview_key(), MemoryGrantStore(), ks.preview_link_ttl_seconds),
                      secrets=SecretBox(ks.common.secrets_key_value()))

    def calling(handler: Callable[..., Awaitable[None]], deps: Any) -> Call:
        async def call(env: Envelope, out: Outbox) -> None:
            await handler(deps, env, env.event(), out)

        return call

    return [
        Stage("validation", topics.VALIDATION.name, calling(val.on_publish_requested, vdeps), ValidationPassed,
              vs.concurrency),
        Stage("certification", topics.CERTIFICATION.name, calling(cert.on_validation_passed, cdeps),
              CertificationPassed, cs.concurrency),
        Stage("provisioning", topics.PROVISIONING.name, calling(prov.on_certification_passed, pdeps),
              ProvisioningPassed, ps.concurrency),
        Stage("packaging", topics.PACKAGING.name, calling(pack.on_provisioning_passed, kdeps), PreviewReady,
              ks.concurrency),
    ]


def publish_request(publisher: str, offer: str, definition: dict[str, Any]) -> Envelope:
    snapshot = OfferSnapshot(offer_version=1, definition=definition, notification_emails=["bench@example.com"])
    return wrap(PublishRequested(offer=snapshot, requested_by="bench"), offer_id=offer, publisher_id=publisher,
                run_id=str(uuid.uuid4()), producer="status-api")


@dataclass(frozen=True)
class Result:
    rate: float  # offers/s
    latencies: list[float]  # publish→preview, sorted
    busy: dict[str, float]  # seconds spent in each stage's handler, summed over offers


async def run(stages: list[Stage], requests: list[Envelope]) -> Result:
    """Throughput, latencies and handler time of ``requests``, all handed in at once."""
    queues: list[asyncio.Queue[tuple[Envelope, float] | None]] = [asyncio.Queue() for _ in range(len(stages) + 1)]
    latencies: list[float] = []
    failures: list[str] = []
    busy = dict.fromkeys((s.name for s in stages), 0.0)

    async def worker(i: int, stage: Stage) -> None:
        while (item := await queues[i].get()) is not None:
            env, started = item
            out = Outbox(MemorySink(), stage.topic, stage.name, env, None)
            began = time.perf_counter()
            try:
                await stage.call(env, out)
                busy[stage.name] += time.perf_counter() - began
            except Exception as exc:  # a bench run that fails says where, then stops
                failures.append(f"{stage.name}: {env.offer_id}: {exc!r}")
                await queues[-1].put(None)
                continue
            nxt = next((e for e in out.sent if isinstance(e.event(), stage.passed)), None)
            if nxt is None:
                failures.append(f"{stage.name}: {env.offer_id}: {[e.event_type for e in out.sent]} "
                                f"{[e.payload.get('summary') for e in out.sent]}")
                await queues[-1].put(None)
            else:
                await queues[i + 1].put((nxt, started))

    workers = [asyncio.create_task(worker(i, s)) for i, s in enumerate(stages) for _ in range(s.concurrency)]
    t0 = time.perf_counter()
    for env in requests:
        await queues[0].put((env, time.perf_counter()))
    for _ in requests:
        item = await queues[-1].get()
        if item is None:
            break
        latencies.append(time.perf_counter() - item[1])
    elapsed = time.perf_counter() - t0
    for w in workers:
        w.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    if failures:
        raise SystemExit(f"bare stage loop: offer failed: {failures[0]}")
    return Result(len(requests) / elapsed, sorted(latencies), busy)
