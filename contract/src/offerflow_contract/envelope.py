"""The event envelope and the registry that maps wire names to event classes.

On the wire an event is one JSON object: the envelope fields plus ``payload``. The class
of the payload is found by ``(event_type, schema_version)``, never by a Python path, so
renaming a class never breaks a stored event.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from offerflow_contract.upcasters import upcast


class ContractError(ValueError):
    """A message that does not honour the contract (the reason goes to the dead-letter topic)."""


class UnknownEventType(ContractError):
    pass


class Event(BaseModel):
    """Base of every event payload: frozen, past tense, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1


class Command(BaseModel):
    """Base of commands (imperative requests from the portal/API); never put on a topic as-is."""

    model_config = ConfigDict(frozen=True, extra="forbid")


E = TypeVar("E", bound=Event)

_REGISTRY: dict[tuple[str, int], type[Event]] = {}


def register(cls: type[E]) -> type[E]:
    key = (cls.event_type, cls.schema_version)
    if key in _REGISTRY and _REGISTRY[key] is not cls:
        raise RuntimeError(f"event type {key} registered twice")
    _REGISTRY[key] = cls
    return cls


def registered_events() -> dict[tuple[str, int], type[Event]]:
    return dict(_REGISTRY)


def now() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID
    event_type: str = Field(min_length=1)
    schema_version: int = Field(ge=1)
    offer_id: str = Field(min_length=1)
    publisher_id: str = Field(min_length=1)
    run_id: str | None = None
    occurred_at: datetime
    producer: str = Field(min_length=1)
    correlation_id: str
    causation_id: str | None = None
    payload: dict[str, Any]

    def event(self) -> Event:
        """The typed payload (upcast from an older schema version); ContractError if it does not match its type."""
        version, payload = upcast(self.event_type, self.schema_version, self.payload,
                                  lambda t, v: (t, v) in _REGISTRY)
        cls = _REGISTRY.get((self.event_type, version))
        if cls is None:
            raise UnknownEventType(f"unknown event type {self.event_type!r} v{self.schema_version}")
        try:
            return cls.model_validate(payload)
        except ValidationError as exc:
            raise ContractError(f"bad payload for {self.event_type}: {exc}") from exc

    def follow(self, event: Event, *, producer: str, run_id: str | None = None) -> Envelope:
        """An envelope for an event caused by this one: same offer, run and correlation."""
        return wrap(
            event,
            offer_id=self.offer_id,
            publisher_id=self.publisher_id,
            run_id=self.run_id if run_id is None else run_id,
            producer=producer,
            correlation_id=self.correlation_id,
            causation_id=str(self.event_id),
        )


def wrap(
    event: Event,
    *,
    offer_id: str,
    publisher_id: str,
    run_id: str | None,
    producer: str,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    event_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
) -> Envelope:
    eid = event_id or uuid.uuid4()
    return Envelope(
        event_id=eid,
        event_type=event.event_type,
        schema_version=event.schema_version,
        offer_id=offer_id,
        publisher_id=publisher_id,
        run_id=run_id,
        occurred_at=occurred_at or now(),
        producer=producer,
        correlation_id=correlation_id or str(eid),
        causation_id=causation_id,
        payload=event.model_dump(mode="json"),
    )


def stable_event_id(*parts: object) -> uuid.UUID:
    """A deterministic event id, so that a redelivered input produces the same output event.

    Consumers dedupe by event id; deriving it from the cause makes re-emission after a crash harmless.
    """
    return uuid.uuid5(uuid.NAMESPACE_URL, "offerflow:" + "/".join(str(p) for p in parts))
