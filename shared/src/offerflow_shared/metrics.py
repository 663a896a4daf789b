"""Prometheus metrics every service exports at ``/metrics``.

Labels are bounded sets (service, consumer group, event type, topic, partition, step, outcome) and never an offer id,
so the number of series does not grow with the number of offers.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

from offerflow_shared import lag  # registers the consumer-lag collector

EVENTS_PROCESSED = Counter(
    "offerflow_events_processed_total", "Events a service's handler processed successfully",
    ["service", "event_type"],
)
DEAD_LETTERS = Counter(
    "offerflow_dead_letters_total", "Records a service sent to <topic>.dlq", ["service", "topic"],
)
# Certification and provisioning hold one event for minutes, so the buckets reach half an hour.
HANDLER_SECONDS = Histogram(
    "offerflow_handler_seconds", "Time from first attempt to success or dead letter, per event",
    ["service", "event_type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800),
)
# A step lasts from seconds (validation) to days (provisioning, or a publisher taking time to sign off).
STEP_SECONDS = Histogram(
    "offerflow_step_seconds", "Duration of finished publishing steps (started → passed/failed/canceled)",
    ["step", "outcome"],
    buckets=(1, 5, 15, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400),
)
OUTBOX_RELAYED = Counter(
    "offerflow_outbox_relayed_total", "Command events the outbox relay put on Kafka",
)
STEPS_OVERDUE = Gauge(
    "offerflow_steps_overdue", "Runs whose current step has run past twice its measured p90", ["step"],
)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class DispatchMetrics:
    """The hook :class:`offerflow_shared.runtime.Dispatcher` calls; a subclass can record elsewhere."""

    def processed(self, service: str, event_type: str, seconds: float) -> None:
        EVENTS_PROCESSED.labels(service, event_type).inc()
        HANDLER_SECONDS.labels(service, event_type).observe(seconds)

    def dead_lettered(self, service: str, topic: str, event_type: str | None, seconds: float | None) -> None:
        DEAD_LETTERS.labels(service, topic).inc()
        if event_type is not None and seconds is not None:
            HANDLER_SECONDS.labels(service, event_type).observe(seconds)


def outbox_relayed(count: int) -> None:
    OUTBOX_RELAYED.inc(count)


def observe_step(step: str, outcome: str, seconds: float) -> None:
    STEP_SECONDS.labels(step, outcome).observe(max(0.0, seconds))


def exposition() -> bytes:
    """The text format Prometheus scrapes (process metrics included)."""
    return bytes(generate_latest(REGISTRY))


def names() -> Iterable[str]:
    """Our own metric families, for tests and docs."""
    return ("offerflow_events_processed", "offerflow_dead_letters", "offerflow_handler_seconds",
            "offerflow_step_seconds", "offerflow_outbox_relayed", "offerflow_steps_overdue", *lag.FAMILIES)
