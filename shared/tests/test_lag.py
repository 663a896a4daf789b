"""Consumer lag: the computation, the Prometheus lines, and that a scrape reads cached offsets only."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, NamedTuple

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from offerflow_shared import lag, metrics


class TP(NamedTuple):
    topic: str
    partition: int


class FakeConsumer:
    """What FaustOffsets uses of Faust's consumer; counts the calls that would go to the broker."""

    def __init__(self) -> None:
        self.assigned: set[TP] = set()
        self.watermarks: dict[TP, int | None] = {}
        self._committed_offset: dict[TP, int | None] = {}
        self.broker_ends: dict[TP, int] = {}
        self.broker_starts: dict[TP, int] = {}
        self.requests = 0

    def assignment(self) -> set[TP]:
        return set(self.assigned)

    def highwater(self, tp: TP) -> int | None:
        assert tp in self.assigned, "Partition is not assigned"
        return self.watermarks.get(tp)

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        self.requests += 1
        return {tp: self.broker_ends[tp] for tp in tps}

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        self.requests += 1
        return {tp: self.broker_starts[tp] for tp in tps}


def fake_app(group: str) -> tuple[Any, FakeConsumer]:
    consumer = FakeConsumer()
    return SimpleNamespace(conf=SimpleNamespace(id=group), consumer=consumer), consumer


@pytest.fixture
def tracked() -> Iterator[list[str]]:
    groups: list[str] = []
    yield groups
    for g in groups:
        lag.COLLECTOR.untrack(g)


def scrape() -> dict[str, dict[tuple[str, str, str], float]]:
    out: dict[str, dict[tuple[str, str, str], float]] = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        if family.name in lag.FAMILIES:
            out[family.name] = {(s.labels["group"], s.labels["topic"], s.labels["partition"]): s.value
                                for s in family.samples}
    return out


def test_lag_is_end_minus_committed_and_counts_from_the_start_before_a_commit() -> None:
    assert lag.partition_lag("t", 0, end=10, committed=4) == lag.PartitionLag("t", 0, 10, 4, 6)
    assert lag.partition_lag("t", 1, end=5, committed=None, earliest=2) == lag.PartitionLag("t", 1, 5, None, 3)
    # A fetch response older than the refresh (a paused partition): the larger end offset is the newer one.
    assert lag.partition_lag("t", 2, end=3, committed=3, refreshed_end=9).lag == 6  # type: ignore[union-attr]
    assert lag.partition_lag("t", 3, end=None, committed=3, refreshed_end=9).end == 9  # type: ignore[union-attr]
    # A consumer that committed past the last watermark it saw never shows a negative lag.
    assert lag.partition_lag("t", 4, end=7, committed=8).lag == 0  # type: ignore[union-attr]
    # Unknown: no end offset yet, or no commit and no known start.
    assert lag.partition_lag("t", 5, end=None, committed=1) is None
    assert lag.partition_lag("t", 6, end=4, committed=None) is None
    assert lag.partition_lag("t", 7, end=-1, committed=0) is None  # aiokafka's "not available"


def test_the_collector_exports_lag_committed_and_end_per_group_topic_partition(tracked: list[str]) -> None:
    tracked += ["offerflow-lag-a", "offerflow-lag-b"]
    lag.COLLECTOR.track("offerflow-lag-a", lambda: [lag.PartitionLag("offerflow.validation", 0, 10, 4, 6),
                                                    lag.PartitionLag("offerflow.validation", 1, 5, None, 5)])
    lag.COLLECTOR.track("offerflow-lag-b", lambda: [lag.PartitionLag("offerflow.validation", 0, 10, 10, 0)])
    got = scrape()
    a0, a1 = ("offerflow-lag-a", "offerflow.validation", "0"), ("offerflow-lag-a", "offerflow.validation", "1")
    b0 = ("offerflow-lag-b", "offerflow.validation", "0")
    assert {k: v for k, v in got["offerflow_consumer_lag"].items() if k[0] in tracked} == {a0: 6, a1: 5, b0: 0}
    # No commit yet: no committed line rather than a made-up 0.
    assert {k: v for k, v in got["offerflow_consumer_committed_offset"].items() if k[0] in tracked} == {a0: 4,
                                                                                                       b0: 10}
    assert got["offerflow_consumer_end_offset"][a1] == 5
    text = metrics.exposition().decode()
    assert 'offerflow_consumer_lag{group="offerflow-lag-a",partition="0",topic="offerflow.validation"} 6.0' in text
    assert "# TYPE offerflow_consumer_lag gauge" in text


def test_a_consumer_that_cannot_be_read_leaves_the_others_in_the_scrape(tracked: list[str]) -> None:
    tracked += ["offerflow-lag-broken", "offerflow-lag-fine"]

    def broken() -> list[lag.PartitionLag]:
        raise RuntimeError("Consumer thread not yet started")

    lag.COLLECTOR.track("offerflow-lag-broken", broken)
    lag.COLLECTOR.track("offerflow-lag-fine", lambda: [lag.PartitionLag("t", 0, 2, 1, 1)])
    got = scrape()["offerflow_consumer_lag"]
    assert got[("offerflow-lag-fine", "t", "0")] == 1
    assert not [k for k in got if k[0] == "offerflow-lag-broken"]


async def test_faust_offsets_read_the_consumer_and_refresh_only_on_the_timer(tracked: list[str]) -> None:
    app, consumer = fake_app("offerflow-lag-faust")
    offsets = lag.FaustOffsets(app)
    tracked.append(offsets.group)
    lag.COLLECTOR.track(offsets.group, offsets.snapshot)
    fetching, paused, fresh = TP("in", 0), TP("in", 1), TP("in", 2)
    consumer.assigned = {fetching, paused, fresh}
    consumer.watermarks = {fetching: 12, paused: 3, fresh: None}
    consumer._committed_offset = {fetching: 7, paused: 3, fresh: None}
    consumer.broker_ends = {fetching: 12, paused: 9, fresh: 4}
    consumer.broker_starts = {fresh: 1}

    # Before any refresh: only what fetch responses said; the never-fetched, never-committed one is unknown.
    assert {(r.partition, r.lag) for r in offsets.snapshot()} == {(0, 5), (1, 0)}
    await offsets.refresh()
    assert consumer.requests == 2  # one end-offsets request, one earliest-offsets for the uncommitted partition
    assert {(r.partition, r.lag) for r in offsets.snapshot()} == {(0, 5), (1, 6), (2, 3)}

    for _ in range(50):
        lines = scrape()["offerflow_consumer_lag"]
    assert consumer.requests == 2, "a scrape must not ask the broker"
    assert lines[("offerflow-lag-faust", "in", "1")] == 6

    # The worker catches up: the next fetch response and commit are what the scrape shows, at once.
    consumer.watermarks[fetching] = 12
    consumer._committed_offset[fetching] = 12
    assert scrape()["offerflow_consumer_lag"][("offerflow-lag-faust", "in", "0")] == 0

    # A revoked partition disappears from the scrape, and its cached offsets from the next refresh.
    consumer.assigned = {fetching}
    assert [r.partition for r in offsets.snapshot()] == [0]
    await offsets.refresh()
    assert offsets._ends == {("in", 0): 12} and offsets._earliest == {}


def test_the_collector_is_registered_once_per_process() -> None:
    assert lag.COLLECTOR in REGISTRY._collector_to_names
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        REGISTRY.register(lag.LagCollector())
