"""The one worker shape: spec + handler table + deps → Faust app and dispatcher, checked without a broker."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from offerflow_contract import codec, topics
from offerflow_contract.envelope import Envelope, wrap
from offerflow_contract.events import (
    CancelRequested,
    OfferSnapshot,
    PublishRequested,
    ValidationFailed,
    ValidationStarted,
)
from offerflow_shared import service
from offerflow_shared.faults import Faults
from offerflow_shared.outbox import MemorySink, Outbox
from offerflow_shared.runtime import Incoming, RetryPolicy
from offerflow_shared.settings import CommonSettings

SPEC = service.stage("demo", (topics.PUBLISHING.name, topics.PACKAGING.name), topics.VALIDATION.name,
                     ends_run_with={PublishRequested: ValidationFailed})


@dataclass
class Settings:
    common: CommonSettings = field(default_factory=CommonSettings)
    web_port: int = 6099
    concurrency: int = 3
    step_timeout_seconds: float = 42.0


@dataclass
class Deps:
    seen: list[str] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)


async def on_publish_requested(deps: Deps, env: Envelope, event: PublishRequested, out: Outbox) -> None:
    deps.seen.append(env.offer_id)
    await out.emit(ValidationStarted(message="started"))


async def on_cancel_requested(deps: Deps, env: Envelope, event: CancelRequested, out: Outbox) -> None:
    deps.seen.append(f"cancel {env.offer_id}")


HANDLERS: service.Handlers[Deps] = {PublishRequested: on_publish_requested, CancelRequested: on_cancel_requested}


def publish(offer_id: str = "demo") -> Incoming:
    snapshot = OfferSnapshot(offer_version=1, definition={}, notification_emails=[])
    env = wrap(PublishRequested(offer=snapshot, requested_by="p"), offer_id=offer_id, publisher_id="p", run_id="r1",
               producer="status-api")
    return Incoming(topics.PUBLISHING.name, 0, 7, offer_id.encode(), codec.encode(env), [])


def test_build_subscribes_one_agent_to_the_spec_topics_with_the_settings() -> None:
    worker = service.build(SPEC, HANDLERS, Settings(), Deps())
    assert worker.app.conf.id == "offerflow-demo" and worker.app.conf.web_port == 6099
    [agent] = worker.app.agents.values()
    assert agent.name.rsplit(".", 1)[-1] == "demo-agent"
    assert agent.concurrency == 3
    assert tuple(agent.channel.topics) == (topics.PUBLISHING.name, topics.PACKAGING.name)
    d = worker.dispatcher
    assert (d.service, d.out_topic, d.failure) == ("demo", topics.VALIDATION.name, SPEC.failure)
    assert d.step_timeout == 42.0 and isinstance(d.faults, Faults)
    assert set(d.handlers) == {PublishRequested.event_type, CancelRequested.event_type}


def test_a_spec_without_concurrency_or_stage_settings_runs_one_at_a_time_without_limits() -> None:
    spec = service.ServiceSpec(name="projection", consumes=(topics.PUBLISHING.name,), emits=topics.PUBLISHING.name,
                               web_port="web_port", concurrency=None)
    worker = service.build(spec, HANDLERS, Settings(concurrency=9), Deps())
    [agent] = worker.app.agents.values()
    assert agent.concurrency == 1
    assert worker.dispatcher.step_timeout is None and worker.dispatcher.failure is None


async def test_the_handler_table_gets_the_deps_and_emits_to_the_spec_topic() -> None:
    deps, sink = Deps(), MemorySink()
    d = service.dispatcher(SPEC, HANDLERS, deps, sink)
    await d.process(publish("o1"))
    assert deps.seen == ["o1"]
    assert [(t, e.event_type) for t, _, v, _ in sink.records for e in [codec.decode(v)]] == [
        (topics.VALIDATION.name, "validation.started")]


async def test_late_deps_are_resolved_per_event_once_bound() -> None:
    late: service.Late[Deps] = service.Late("the demo store")
    with pytest.raises(RuntimeError, match="the demo store is not ready"):
        late.get()
    d = service.dispatcher(SPEC, HANDLERS, late, MemorySink())
    assert not late.bound
    deps = late.bind(Deps())
    await d.process(publish("o2"))
    assert late.bound and deps.seen == ["o2"]


async def test_a_given_up_input_ends_the_run_and_runs_the_clean_up_with_the_deps(tmp_path: Path) -> None:
    deps, sink = Deps(), MemorySink()

    async def clean_up(got: Deps, failed: Envelope) -> None:
        got.cleaned.append(failed.event_type)

    d = service.dispatcher(SPEC, HANDLERS, deps, sink, faults=Faults(tmp_path, "demo"), after_failure=clean_up)
    d.retry = RetryPolicy(attempts=1)
    (tmp_path / "demo").write_text("demo\n")  # every event of offer "demo" fails
    await d.process(publish("demo"))
    assert deps.cleaned == ["validation.failed"]
    assert [t for t, *_ in sink.records] == [f"{topics.PUBLISHING.name}.dlq", topics.VALIDATION.name]
