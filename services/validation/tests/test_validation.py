from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from offerflow_shared import codec
from offerflow_shared.envelope import wrap
from offerflow_shared.events import OfferSnapshot, PublishRequested, ValidationFailed, ValidationPassed
from offerflow_shared.runtime import Dispatcher, Incoming, MemorySink
from offerflow_validation import rules
from offerflow_validation.handlers import build_handlers

DEMO = Path(__file__).resolve().parents[3] / "deploy/dev/demo_offer.json"


def definition() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DEMO.read_text().replace("@IMAGE_URL@", "file:///tmp/os.vhd"))
    return copy.deepcopy(doc["definition"])


def test_complete_offer_has_no_problems() -> None:
    assert rules.check(definition()) == []


def test_every_missing_field_is_reported_at_once_next_to_its_field() -> None:
    d = definition()
    del d["offer"]["microsoft-azure-marketplace.title"]
    d["offer"]["microsoft-azure-marketplace.allowedSubscriptions"] = []
    d["plans"][0]["microsoft-azure-virtualmachines.skuTitle"] = ""
    d["plans"][0]["microsoft-azure-corevm.vmImagesPublicAzure"]["1.0.0"]["osVhdUrl"] = ""
    fields = {p.field for p in rules.check(d)}
    assert fields == {
        "/offer/microsoft-azure-marketplace.title",
        "/offer/microsoft-azure-marketplace.allowedSubscriptions",
        "/plans/0/microsoft-azure-virtualmachines.skuTitle",
        "/plans/0/microsoft-azure-corevm.vmImagesPublicAzure/1.0.0/osVhdUrl",
    }


def test_no_plans_is_a_problem() -> None:
    d = definition()
    d["plans"] = []
    assert [p.field for p in rules.check(d)] == ["/plans"]


async def run(defn: dict[str, Any]) -> MemorySink:
    sink = MemorySink()
    d = Dispatcher(service="validation", out_topic="offerflow.validation", handlers=build_handlers(), sink=sink)
    env = wrap(PublishRequested(offer=OfferSnapshot(offer_version=2, definition=defn,
                                                    notification_emails=["a@b.example"]), requested_by="p"),
               offer_id="demo", publisher_id="p", run_id="r1", producer="status-api")
    await d.process(Incoming("offerflow.publishing", 0, 0, b"demo", codec.encode(env), []))
    return sink


async def test_handler_passes_a_complete_offer_forward_with_its_snapshot() -> None:
    events = (await run(definition())).events()
    assert [e.event_type for e in events] == ["validation.started", "validation.passed"]
    assert isinstance(events[1], ValidationPassed) and events[1].offer.offer_version == 2


async def test_handler_fails_the_step_with_every_reason_and_the_emails() -> None:
    d = definition()
    d["offer"] = {}
    events = (await run(d)).events()
    failed = events[-1]
    assert isinstance(failed, ValidationFailed)
    assert len(failed.reasons) == 6 and failed.notification_emails == ["a@b.example"]
