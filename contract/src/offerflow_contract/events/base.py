"""Shapes shared by the stage event families (started / progressed / passed / failed)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from offerflow_contract.envelope import Event
from offerflow_contract.steps import StepId

Level = Literal["information", "warning", "error"]


class Reason(BaseModel):
    """One problem found by a stage, machine-readable and with a message a person can act on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    message: str
    field: str | None = None  # JSON pointer into the offer document, when the problem has a place
    level: Level = "error"


class OfferSnapshot(BaseModel):
    """The offer as it was when Publish was pressed; carried forward so stages need no shared store."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    offer_version: int = Field(ge=1)
    definition: dict[str, Any]
    notification_emails: list[str]


class StageStarted(Event):
    step: ClassVar[StepId]
    message: str = ""


class StageProgressed(Event):
    step: ClassVar[StepId]
    percentage: int = Field(ge=0, le=100)
    message: str
    level: Level = "information"


class StagePassed(Event):
    step: ClassVar[StepId]
    offer: OfferSnapshot
    warnings: list[Reason] = []


class StageFailed(Event):
    step: ClassVar[StepId]
    summary: str
    reasons: list[Reason] = Field(min_length=1)
    notification_emails: list[str] = []
    # Set when the runtime gave up on the input (internal error, time limit): where ops find the dead letter,
    # "<dlq topic> <- <topic>[partition]@offset". Never shown to the publisher.
    dead_letter: str | None = None
