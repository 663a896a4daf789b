from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from offerflow_shared.envelope import register
from offerflow_shared.events.base import StageFailed, StagePassed, StageProgressed, StageStarted
from offerflow_shared.steps import StepId


class CertifiedDisk(BaseModel):
    """A disk that passed certification, pinned by checksum so later stages can detect a swap."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    plan_id: str
    image_version: str
    disk: str  # "os" or "lun<N>"
    url: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int = Field(ge=0)


@register
class CertificationStarted(StageStarted):
    event_type = "certification.started"
    step = StepId.CERTIFICATION


@register
class CertificationProgressed(StageProgressed):
    event_type = "certification.progressed"
    step = StepId.CERTIFICATION


@register
class CertificationPassed(StagePassed):
    event_type = "certification.passed"
    step = StepId.CERTIFICATION
    disks: list[CertifiedDisk]


@register
class CertificationFailed(StageFailed):
    event_type = "certification.failed"
    step = StepId.CERTIFICATION
