"""Metric names and labels (never an offer id), the dispatcher's hook, lag and the operations pages."""

from __future__ import annotations

import json

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from offerflow_contract import codec
from offerflow_contract.envelope import Envelope, wrap
from offerflow_contract.events import CancelRequested
from offerflow_shared import lag, metrics, ops
from offerflow_shared.outbox import MemorySink, Outbox
from offerflow_shared.runtime import Dispatcher, Incoming, RetryPolicy, handles


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def env() -> Envelope:
    return wrap(CancelRequested(requested_by="x"), offer_id="offer-1", publisher_id="p", run_id="r", producer="t")


async def test_the_dispatcher_counts_processed_events_and_dead_letters() -> None:
    ok = {"service": "metrics-test", "event_type": "offer.cancel_requested"}
    dead = {"service": "metrics-test", "topic": "offerflow.publishing"}
    before = (sample("offerflow_events_processed_total", ok), sample("offerflow_handler_seconds_count", ok),
              sample("offerflow_dead_letters_total", dead))
    calls = {"n": 0}

    async def handler(e: Envelope, event: CancelRequested, out: Outbox) -> None:
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("down")

    d = Dispatcher(service="metrics-test", out_topic="out", handlers=dict([handles(CancelRequested, handler)]),
                   sink=MemorySink(), retry=RetryPolicy(attempts=2, first_delay=0))
    await d.process(Incoming("offerflow.publishing", 0, 1, b"offer-1", codec.encode(env())))
    await d.process(Incoming("offerflow.publishing", 0, 2, b"offer-1", codec.encode(env())))  # fails twice
    await d.process(Incoming("offerflow.publishing", 0, 3, b"offer-1", b"garbage"))
    assert sample("offerflow_events_processed_total", ok) == before[0] + 1
    assert sample("offerflow_handler_seconds_count", ok) == before[1] + 2  # the success and the given-up one
    assert sample("offerflow_dead_letters_total", dead) == before[2] + 2


def test_exposition_has_our_families_and_no_offer_id_label() -> None:
    metrics.observe_step("displaycertify", "complete", 12.0)
    lag.COLLECTOR.track("offerflow-metrics-test", lambda: [lag.PartitionLag("offerflow.validation", 0, 5, 2, 3)])
    try:
        families = {f.name: f for f in text_string_to_metric_families(metrics.exposition().decode())}
    finally:
        lag.COLLECTOR.untrack("offerflow-metrics-test")
    for name in metrics.names():
        assert name in families, name
    labels = {k for name in metrics.names() for s in families[name].samples for k in s.labels}
    assert labels <= {"service", "group", "event_type", "topic", "partition", "step", "outcome", "le"}
    assert "offer_id" not in labels


async def test_readyz_reports_each_failing_check() -> None:
    async def fine() -> None:
        return None

    async def broken() -> None:
        raise ConnectionError("refused")

    ready = await ops.readyz({"broker": fine})
    assert ready.status == 200 and json.loads(ready.body)["status"] == "ready"
    down = await ops.readyz({"broker": fine, "database": broken})
    assert down.status == 503 and "refused" in json.loads(down.body)["database"]
    assert ops.healthz().status == 200
    assert ops.metrics_page().content_type.startswith("text/plain")
