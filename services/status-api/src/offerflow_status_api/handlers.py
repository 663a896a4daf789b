"""The status projection: every event of every topic goes to the read model (idempotent by event id), and
stage outcomes move the offer's command-side run state."""

from __future__ import annotations

from typing import Protocol

from offerflow_shared import metrics
from offerflow_shared.envelope import Envelope, Event, registered_events
from offerflow_shared.runtime import Handler, Outbox
from offerflow_status_api.rules import RunView
from offerflow_status_api.step_metrics import finished_step, finishes


class Projection(Protocol):
    async def apply(self, env: Envelope) -> bool: ...

    async def fold(self, run_id: str) -> RunView | None: ...


class Lifecycle(Protocol):
    async def apply(self, env: Envelope, event: Event) -> bool: ...


class Deferred:
    """A projection whose real target is attached once the worker's event loop runs."""

    target: Projection | None = None

    async def apply(self, env: Envelope) -> bool:
        if self.target is None:
            raise RuntimeError("the read model is not open yet")
        return await self.target.apply(env)

    async def fold(self, run_id: str) -> RunView | None:
        if self.target is None:
            raise RuntimeError("the read model is not open yet")
        return await self.target.fold(run_id)


class DeferredLifecycle:
    """The command side's run lifecycle, attached once the worker's event loop runs."""

    target: Lifecycle | None = None

    async def apply(self, env: Envelope, event: Event) -> bool:
        if self.target is None:
            raise RuntimeError("the command store is not open yet")
        return await self.target.apply(env, event)


def build_handlers(read_model: Projection, lifecycle: Lifecycle) -> dict[str, Handler]:
    async def project(env: Envelope, event: Event, _out: Outbox) -> None:
        # The command side first: Publish, Go live and Cancel must learn where the run is even if the read
        # model cannot store this event.
        await lifecycle.apply(env, event)
        if await read_model.apply(env) and env.run_id and finishes(event) is not None:
            view = await read_model.fold(env.run_id)
            timed = finished_step(view, event) if view is not None else None
            if timed is not None:
                metrics.observe_step(*timed)

    return {event_type: project for event_type, _ in registered_events()}
