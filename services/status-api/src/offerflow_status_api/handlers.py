"""The status projection: every event of every topic goes to the read model (idempotent by event id)."""

from __future__ import annotations

from typing import Protocol

from offerflow_shared.envelope import Envelope, Event, registered_events
from offerflow_shared.runtime import Handler, Outbox


class Projection(Protocol):
    async def apply(self, env: Envelope) -> bool: ...


class Deferred:
    """A projection whose real target is attached once the worker's event loop runs."""

    target: Projection | None = None

    async def apply(self, env: Envelope) -> bool:
        if self.target is None:
            raise RuntimeError("the read model is not open yet")
        return await self.target.apply(env)


def build_handlers(read_model: Projection) -> dict[str, Handler]:
    async def project(env: Envelope, _event: Event, _out: Outbox) -> None:
        await read_model.apply(env)

    return {event_type: project for event_type, _ in registered_events()}
