from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from offerflow_contract.envelope import register
from offerflow_contract.events.base import StageFailed, StagePassed, StageProgressed, StageStarted
from offerflow_contract.steps import StepId


class CertifiedDisk(BaseModel):
    """A disk that passed certification, pinned by checksum so later stages can detect a swap."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    plan_id: str
    image_version: str
    disk: str  # "os" or "lun<N>"
    url: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int = Field(ge=0)


class TestOutcome(BaseModel):
    """One test of the report, in the shape of the original self-test tool's result."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    test_id: str
    test_case_name: str
    description: str
    result: Literal["Passed", "Warning", "Failed"]
    actual_value: str
    required_value: str


class DiskReport(BaseModel):
    """The certification report of one disk of one image version of one plan."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    plan_id: str
    image_version: str
    disk: str
    url: str
    sha256: str | None = None
    size_bytes: int | None = None
    certifier_version: str
    os_name: str | None = None
    kernel_version: str | None = None
    test_result: Literal["Pass", "Fail"]
    tests: list[TestOutcome]
    reused_from_run: str | None = None  # set when an identical image (same SHA-256 and certifier) was reused


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
    reports: list[DiskReport] = []


@register
class CertificationFailed(StageFailed):
    event_type = "certification.failed"
    step = StepId.CERTIFICATION
    reports: list[DiskReport] = []
