"""The status projection's handler table: every event of every topic goes to the read model (idempotent by
event id), and stage outcomes move the offer's command-side run state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from offerflow_contract.envelope import Envelope, Event, registered_events
from offerflow_shared import metrics
from offerflow_shared.outbox import Outbox
from offerflow_shared.service import Handlers
from offerflow_status_api.projection.view import Applied
from offerflow_status_api.step_metrics import finished_step


class Projection(Protocol):
    async def apply(self, env: Envelope, event: Event | None = None) -> Applied: ...


class Lifecycle(Protocol):
    async def apply(self, env: Envelope, event: Event) -> bool: ...


@dataclass(frozen=True)
class Deps:
    read_model: Projection
    lifecycle: Lifecycle


async def project(deps: Deps, env: Envelope, event: Event, _out: Outbox) -> None:
    # The command side first: Publish, Go live and Cancel must learn where the run is even if the read
    # model cannot store this event.
    await deps.lifecycle.apply(env, event)
    applied = await deps.read_model.apply(env, event)
    # Step durations come from the view the read model just derived: a duplicate observes nothing.
    timed = finished_step(applied.view, event) if applied.new and applied.view is not None else None
    if timed is not None:
        metrics.observe_step(*timed)


# Every event of the contract, whatever its topic, goes through the same fold.
HANDLERS: Handlers[Deps] = {cls: project for cls in registered_events().values()}
