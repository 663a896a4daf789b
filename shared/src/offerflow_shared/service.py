"""The one worker shape: a service declares a :class:`ServiceSpec` and a handler table; this builds the rest.

A service's ``handlers.py`` holds ``HANDLERS``: event class → ``async def on_x(deps, env, event, out)``, one
signature everywhere, with the service's dependencies (its ``Deps``) passed first. Its ``bootstrap.py`` builds
the ``Deps`` from settings and hands both to :func:`build`, which makes the Faust app, subscribes the shared
:class:`~offerflow_shared.runtime.Dispatcher` to the spec's topics and returns it; :func:`main` runs it with
the ops endpoints. Unit tests build the same dispatcher with :func:`dispatcher` and a memory sink.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import faust

from offerflow_contract.envelope import Envelope, Event
from offerflow_contract.events import StageFailed
from offerflow_shared import logs, ops
from offerflow_shared.failures import FailureFactory, stage_failures
from offerflow_shared.faults import Faults
from offerflow_shared.outbox import Outbox, Sink
from offerflow_shared.runtime import Dispatcher, Handler, handles
from offerflow_shared.settings import CommonSettings
from offerflow_shared.worker import FaustSink, attach, create_app, run

T = TypeVar("T")
D = TypeVar("D")

# One handler signature for every service: its dependencies first, then what the runtime passes.
StageHandler = Callable[[D, Envelope, Any, Outbox], Awaitable[None]]
Handlers = Mapping[type[Event], StageHandler[D]]


class Late(Generic[T]):
    """A value attached once the worker's event loop runs.

    Database pools belong to the loop that made them, and Faust starts its loop after the app is built: the
    composition root hands a ``Late`` to whatever needs the pool and binds it in the agent's start hook.
    """

    def __init__(self, what: str) -> None:
        self._what = what
        self._value: T | None = None

    def bind(self, value: T) -> T:
        self._value = value
        return value

    @property
    def bound(self) -> bool:
        return self._value is not None

    def get(self) -> T:
        if self._value is None:
            raise RuntimeError(f"{self._what} is not ready (the worker has not started)")
        return self._value


@dataclass(frozen=True)
class ServiceSpec:
    """What a worker reads and writes, and which of its settings tune the runtime."""

    name: str
    consumes: tuple[str, ...]
    emits: str
    # What the run ends with when the runtime gives up on an input (stages only, see offerflow_shared.failures).
    failure: FailureFactory | None = None
    web_port: str = "web_port"  # the settings field with the ops port
    concurrency: str | None = "concurrency"  # the settings field; None: one event at a time
    step_timeout: str | None = None  # the settings field with the step's hard limit, if the stage has one
    faults: bool = False  # whether the fault-injection directory applies (stages under the chaos suite)


def stage(name: str, consumes: tuple[str, ...], emits: str, ends_run_with: Mapping[type[Event], type[StageFailed]],
          ) -> ServiceSpec:
    """A pipeline step: when the runtime gives up on an input in ``ends_run_with`` the run ends with that failed
    event; the step has a hard limit (``step_timeout_seconds``) and takes injected faults."""
    failure = stage_failures({cls.event_type: failed for cls, failed in ends_run_with.items()})
    return ServiceSpec(name=name, consumes=consumes, emits=emits, failure=failure,
                       step_timeout="step_timeout_seconds", faults=True)


class WorkerSettings(Protocol):
    @property
    def common(self) -> CommonSettings: ...


def bind(table: Handlers[D], deps: D | Late[D]) -> dict[str, Handler]:
    """The dispatcher's table: each handler gets ``deps`` (resolved per event when late) and a checked event."""

    def resolve() -> D:
        return deps.get() if isinstance(deps, Late) else deps

    def one(cls: type[Event], fn: StageHandler[D]) -> tuple[str, Handler]:
        async def call(env: Envelope, event: Event, out: Outbox) -> None:
            await fn(resolve(), env, event, out)

        return handles(cls, call)

    return dict(one(cls, fn) for cls, fn in table.items())


def dispatcher(
    spec: ServiceSpec,
    table: Handlers[D],
    deps: D | Late[D],
    sink: Sink,
    *,
    step_timeout: float | None = None,
    faults: Faults | None = None,
    after_failure: Callable[[D, Envelope], Awaitable[None]] | None = None,
) -> Dispatcher:
    """The service's dispatcher, with the spec's topic and failure factory."""
    clean_up = None
    if after_failure is not None:
        hook = after_failure

        async def clean_up(failed: Envelope) -> None:
            await hook(deps.get() if isinstance(deps, Late) else deps, failed)

    return Dispatcher(service=spec.name, out_topic=spec.emits, handlers=bind(table, deps), sink=sink,
                      failure=spec.failure, step_timeout=step_timeout, faults=faults, after_failure=clean_up)


@dataclass(frozen=True)
class Worker:
    app: faust.App
    dispatcher: Dispatcher
    sink: Sink


def create(spec: ServiceSpec, settings: WorkerSettings) -> faust.App:
    """The bare Faust app of ``spec`` (no agent yet): its broker, ops port and topic defaults."""
    common = settings.common
    return create_app(spec.name, bootstrap=common.kafka_bootstrap, web_port=int(getattr(settings, spec.web_port)),
                      replication_factor=common.kafka_replication_factor)


def build(
    spec: ServiceSpec,
    table: Handlers[D],
    settings: WorkerSettings,
    deps: D | Late[D],
    *,
    on_start: Callable[[], Awaitable[Any]] | None = None,
    after_failure: Callable[[D, Envelope], Awaitable[None]] | None = None,
) -> Worker:
    """The Faust app with the dispatcher subscribed to ``spec.consumes``; ``on_start`` binds late deps."""
    common = settings.common
    app = create(spec, settings)
    sink = FaustSink(app)
    limit = getattr(settings, spec.step_timeout) if spec.step_timeout else None
    faults = Faults(common.faults_dir, spec.name) if spec.faults else None
    wired = dispatcher(spec, table, deps, sink, step_timeout=limit, faults=faults, after_failure=after_failure)
    concurrency = int(getattr(settings, spec.concurrency)) if spec.concurrency else 1
    attach(app, spec.consumes, wired, concurrency=concurrency, on_start=on_start)
    return Worker(app, wired, sink)


S = TypeVar("S", bound=WorkerSettings)


def main(spec: ServiceSpec, settings_type: Callable[[], S], make: Callable[[S], faust.App],
         *, checks: Mapping[str, ops.Check] | None = None) -> None:
    """A service's console script: settings (validated first), JSON logs, then the worker until SIGTERM."""
    settings = settings_type()
    level = settings.common.log_level
    logs.configure(spec.name, level)
    run(make(settings), level.lower(), checks=checks)
