"""Consumer lag per group and partition, computed at scrape time from what the worker's own consumer knows.

Every fetch response carries the partition's high watermark, which the consumer keeps per assigned partition,
and Faust keeps the offset it last committed per partition: a scrape reads those two numbers and sends no
request and opens no client. A partition the consumer has stopped fetching (Faust pauses one while a long
handler holds its buffer) keeps an old watermark, so :meth:`FaustOffsets.refresh` (run by a timer) asks the
broker for the end offsets of the assigned partitions through the same consumer's connection, at most every
``REFRESH_SECONDS``; a scrape takes the larger of the two. Lag is ``end - committed``, as Kafka's
``kafka-consumer-groups --describe`` reports it; before the group's first commit on a partition it is counted
from the partition's earliest offset, where the group starts reading.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("offerflow.lag")

REFRESH_SECONDS = 10.0
FAMILIES = ("offerflow_consumer_lag", "offerflow_consumer_committed_offset", "offerflow_consumer_end_offset")
Partition = tuple[str, int]


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    end: int
    committed: int | None  # None: the group has committed nothing on this partition yet
    lag: int


def partition_lag(topic: str, partition: int, *, end: int | None, committed: int | None,
                  earliest: int | None = None, refreshed_end: int | None = None) -> PartitionLag | None:
    """The lag of one partition, or None while its end offset (or, with no commit, its start) is unknown.

    ``end`` is the watermark of the last fetch response, ``refreshed_end`` the last end offset the refresh
    asked for; offsets only grow, so the larger one is the newer.
    """
    ends = [e for e in (end, refreshed_end) if e is not None and e >= 0]
    start = committed if committed is not None and committed >= 0 else earliest
    if not ends or start is None:
        return None
    top = max(ends)
    return PartitionLag(topic, partition, top, committed if committed is not None and committed >= 0 else None,
                        max(0, top - start))


Snapshot = Callable[[], Iterable[PartitionLag]]


class LagCollector(Collector):
    """Reads every tracked consumer at scrape time; one instance per process, registered once."""

    def __init__(self) -> None:
        self._sources: dict[str, Snapshot] = {}
        self._lock = threading.Lock()

    def track(self, group: str, snapshot: Snapshot) -> None:
        with self._lock:
            self._sources[group] = snapshot

    def untrack(self, group: str) -> None:
        with self._lock:
            self._sources.pop(group, None)

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def _families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        labels = ["group", "topic", "partition"]
        return (
            GaugeMetricFamily(FAMILIES[0], "End offset minus the group's committed offset, per assigned "
                              "partition (from the earliest offset before the first commit)", labels=labels),
            GaugeMetricFamily(FAMILIES[1], "The group's committed offset (the next offset it reads after a "
                              "restart), per assigned partition with a commit", labels=labels),
            GaugeMetricFamily(FAMILIES[2], "The partition's end offset (high watermark) as this worker last "
                              "saw it", labels=labels),
        )

    def collect(self) -> Iterator[Metric]:
        lag, committed, end = self._families()
        with self._lock:
            sources = dict(self._sources)
        for group, snapshot in sorted(sources.items()):
            try:
                rows = list(snapshot())
            except Exception as exc:  # a consumer between rebalances: its lines are missing from this scrape
                log.debug("consumer lag of %s not read: %r", group, exc)
                continue
            for row in rows:
                key = [group, row.topic, str(row.partition)]
                lag.add_metric(key, row.lag)
                end.add_metric(key, row.end)
                if row.committed is not None:
                    committed.add_metric(key, row.committed)
        yield from (lag, committed, end)


COLLECTOR = LagCollector()
REGISTRY.register(COLLECTOR)


class FaustOffsets:
    """The offsets of one Faust app's consumer: read without I/O by :meth:`snapshot`, refreshed by :meth:`refresh`.

    Faust runs its Kafka consumer in a thread of its own; the values read here are plain numbers that thread
    writes, so a scrape from the web server's loop never waits for it.
    """

    def __init__(self, app: Any) -> None:
        self._app = app
        self._ends: dict[Partition, int] = {}
        self._earliest: dict[Partition, int] = {}

    @property
    def group(self) -> str:
        return str(self._app.conf.id)

    def _committed(self) -> Mapping[Any, int | None]:
        # Faust's own record of what it committed (updated on every commit, and from the broker on assignment);
        # reading it costs nothing, asking the group coordinator would cost a request per scrape.
        return getattr(self._app.consumer, "_committed_offset", {})

    def snapshot(self) -> list[PartitionLag]:
        consumer = self._app.consumer
        committed = self._committed()
        rows = []
        for tp in sorted(consumer.assignment()):
            try:
                seen = consumer.highwater(tp)
            except Exception:  # revoked since assignment() was read; gone from the next scrape too
                continue
            key = (tp.topic, tp.partition)
            row = partition_lag(tp.topic, tp.partition, end=seen, committed=committed.get(tp),
                                earliest=self._earliest.get(key), refreshed_end=self._ends.get(key))
            if row is not None:
                rows.append(row)
        return rows

    async def refresh(self) -> None:
        """End offsets of the assigned partitions, and the earliest of those without a commit, through the
        worker's consumer (no client of its own)."""
        consumer = self._app.consumer
        tps = sorted(consumer.assignment())
        held = {(tp.topic, tp.partition) for tp in tps}
        for cache in (self._ends, self._earliest):
            for gone in set(cache) - held:
                del cache[gone]
        if not tps:
            return
        ends = await consumer.highwaters(*tps)
        self._ends.update({(tp.topic, tp.partition): int(off) for tp, off in ends.items() if off is not None})
        committed = self._committed()
        unknown = [tp for tp in tps if committed.get(tp) is None and (tp.topic, tp.partition) not in self._earliest]
        if unknown:
            earliest = await consumer.earliest_offsets(*unknown)
            self._earliest.update({(tp.topic, tp.partition): int(off) for tp, off in earliest.items()
                                   if off is not None})
