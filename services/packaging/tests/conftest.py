from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from offerflow_contract.codec import encode
from offerflow_contract.envelope import Envelope, Event, wrap
from offerflow_contract.events import CertifiedDisk, OfferSnapshot, Replica, StagingPassed
from offerflow_packaging import handlers
from offerflow_packaging.access import PreviewAccess
from offerflow_packaging.adapters.artifacts import MemoryArtifactSource
from offerflow_packaging.adapters.grants import MemoryGrantStore
from offerflow_packaging.adapters.leads import NoLeadDestination
from offerflow_packaging.adapters.pages import MemoryPageStore
from offerflow_packaging.storefront import Storefront
from offerflow_shared import service
from offerflow_shared.offer import IMAGES_KEY, MARKETPLACE, VM
from offerflow_shared.outbox import MemorySink
from offerflow_shared.runtime import Dispatcher, Incoming, RetryPolicy

SUB_A = "3F2504E0-4F89-11D3-9A0C-0305E82C3301"
SUB_B = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
OUTSIDER = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
STOREFRONT = "http://shop.test"
SHA = "ab" * 32
LOGO_URL = "https://cdn.contoso.example/logo.png"
SHOT_URLS = [f"https://cdn.contoso.example/s{i}.png" for i in range(7)]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PREVIEW_KEY = b"unit-test-preview-key-not-for-production"


def preview_access(grants: MemoryGrantStore, clock: Callable[[], float] = time.time) -> PreviewAccess:
    return PreviewAccess(PREVIEW_KEY, grants, clock=clock)


def shop(pages: MemoryPageStore, grants: MemoryGrantStore, clock: Callable[[], float] = time.time) -> Storefront:
    return Storefront(pages, preview_access(grants, clock))


def viewer(link: str) -> tuple[str, str]:
    """(subscriptionId, access token) of a preview link."""
    query = parse_qs(urlsplit(link).query)
    return query["subscriptionId"][0], query["access"][0]


def png(tag: str) -> bytes:
    """Bytes that pass the PNG magic check (the content past it is never decoded)."""
    return PNG_MAGIC + tag.encode()


def artifact_source() -> MemoryArtifactSource:
    return MemoryArtifactSource({url: png(url) for url in [LOGO_URL, *SHOT_URLS]})


def definition(**marketing: Any) -> dict[str, Any]:
    m = {
        "title": "Contoso Web Server",
        "summary": "A hardened web server",
        "longSummary": "Nginx on a hardened Linux, ready in minutes",
        "description": '<p>Fast <b>and</b> safe.</p><script>alert("x")</script>'
        '<a href="javascript:alert(1)" onclick="steal()">bad</a><a href="https://contoso.example/docs">docs</a>',
        "privacyURL": "https://contoso.example/privacy",
        "largeLogo": LOGO_URL,
        "screenshots": list(SHOT_URLS),
        "allowedSubscriptions": [SUB_A, SUB_B, "not-a-guid"],
        "publisherDisplayName": "Contoso Ltd",
    }
    m.update(marketing)
    plan = {
        "planId": "gold",
        VM + "skuTitle": "Gold",
        VM + "skuSummary": "The gold plan",
        VM + "operatingSystemFamily": "Linux",
        VM + "operationSystem": "Ubuntu 22.04",
        VM + "recommendedVMSizes": ["d2s-v3", "d4s-v3"],
        VM + "openPorts": [{"port": 443, "protocol": "tcp"}],
        VM + "virtualMachinePricing": {"isByol": True},
        IMAGES_KEY: {"1.0.9": {"osVhdUrl": "file:///a"}, "1.0.10": {"osVhdUrl": "file:///b"}},
    }
    return {"offer": {MARKETPLACE + k: v for k, v in m.items()}, "plans": [plan]}


def staging_passed(version: int = 4, **marketing: Any) -> Envelope:
    offer = OfferSnapshot(
        offer_version=version, definition=definition(**marketing), notification_emails=["ops@contoso.example"]
    )
    disk = CertifiedDisk(
        plan_id="gold", image_version="1.0.10", disk="os", url="file:///b", sha256=SHA, size_bytes=1
    )
    replicas = [
        Replica(
            region=r, plan_id="gold", image_version="1.0.10", disk="os", location=f"file:///{r}", sha256=SHA
        )
        for r in ("westeurope", "eastus")
    ]
    return wrap(
        StagingPassed(offer=offer, disks=[disk], replicas=replicas),
        offer_id="web-server",
        publisher_id="contoso",
        run_id="run-1",
        producer="staging",
    )


def command(event: Event) -> Envelope:
    return wrap(event, offer_id="web-server", publisher_id="contoso", run_id="run-1", producer="status-api")


def incoming(env: Envelope) -> Incoming:
    return Incoming("offerflow.staging", 0, 1, env.offer_id.encode(), encode(env))


@pytest.fixture
def kit() -> ModuleType:
    """This module's helpers (test modules cannot import conftest under importlib mode)."""
    return sys.modules[__name__]


@pytest.fixture
def pages() -> MemoryPageStore:
    return MemoryPageStore()


@pytest.fixture
def grants() -> MemoryGrantStore:
    return MemoryGrantStore()


def deps_for(pages: Any, grants: MemoryGrantStore, leads: Any = None, artifacts: Any = None) -> handlers.Deps:
    return handlers.Deps(
        pages=pages,
        leads=leads or NoLeadDestination(),
        artifacts=artifacts or artifact_source(),
        storefront_url=STOREFRONT,
        access=preview_access(grants),  # the test's own store: a test's storefront sees the same grants
    )


@pytest.fixture
def make_dispatcher(grants: MemoryGrantStore) -> Callable[..., tuple[Dispatcher, MemorySink]]:
    def make(pages: Any, leads: Any = None, artifacts: Any = None) -> tuple[Dispatcher, MemorySink]:
        sink = MemorySink()
        deps = deps_for(pages, grants, leads, artifacts)
        return Dispatcher(
            service="packaging",
            out_topic="offerflow.packaging",
            handlers=service.bind(handlers.HANDLERS, deps),
            sink=sink,
            retry=RetryPolicy(attempts=1),
        ), sink

    return make
