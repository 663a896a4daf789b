"""Puts accepted commands on ``offerflow.publishing`` as events."""

from __future__ import annotations

from typing import Protocol

from offerflow_shared import topics
from offerflow_shared.codec import encode, headers_for, key_of
from offerflow_shared.envelope import Envelope
from offerflow_shared.runtime import Sink


class EventBus(Protocol):
    async def publish(self, envelope: Envelope) -> None: ...


class SinkBus:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def publish(self, envelope: Envelope) -> None:
        await self.sink.send(topics.PUBLISHING.name, key_of(envelope), encode(envelope), headers_for(envelope))
