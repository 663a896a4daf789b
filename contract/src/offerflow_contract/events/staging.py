"""Staging deployment: one replica per plan booted in a VM, checked milestone by milestone.

The report keeps the certification report's shape (a result per check, actual vs required) and carries the
console log, bounded, so that the read model (and the console the publisher downloads) is rebuilt from the topic.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from offerflow_contract.envelope import register
from offerflow_contract.events.base import StageFailed, StagePassed, StageProgressed, StageStarted
from offerflow_contract.events.certification import CertifiedDisk
from offerflow_contract.events.provisioning import Replica
from offerflow_contract.steps import StepId

# The console kept in an event: its first and last lines up to this many characters in all (a boot that floods the
# console keeps its head, where the firmware and kernel speak, and its tail, where it stopped).
CONSOLE_MAX_CHARS = 64 * 1024

CheckResult = Literal["Passed", "Warning", "Failed", "NotRun"]


class StagingCheck(BaseModel):
    """One milestone of the boot, in the order they must happen."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    check_id: str  # stable key: boot-loader, kernel, root-fs, init, ssh, agent, login (see the staging README)
    name: str
    result: CheckResult
    actual: str
    required: str
    seconds: float | None = None  # since power-on, when the milestone was seen


class StagingReport(BaseModel):
    """The staging report of one plan: the boot of its OS disk's replica from the first region."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    plan_id: str
    image_version: str
    region: str
    location: str  # the replica booted, as the status shows replicas (never a credential)
    accelerator: str  # "tcg" or "kvm"; "none" when no VM was started (the boot sector alone failed the check)
    result: Literal["Pass", "Fail"]
    first_missing: str | None = None  # check_id of the first milestone that did not happen
    summary: str  # e.g. "booted to multi-user in 38 s; SSH answered; logged in as the provisioned user"
    checks: list[StagingCheck]
    seconds: float = Field(ge=0)
    console: str = Field("", max_length=CONSOLE_MAX_CHARS + 200)
    console_truncated: bool = False
    console_tail: list[str] = []  # the last lines, as the failure mail shows them


@register
class StagingStarted(StageStarted):
    event_type = "staging.started"
    step = StepId.STAGING


@register
class StagingProgressed(StageProgressed):
    event_type = "staging.progressed"
    step = StepId.STAGING


@register
class StagingPassed(StagePassed):
    """Carries forward what packaging needs (the disks and replicas) with the reports."""

    event_type = "staging.passed"
    step = StepId.STAGING
    disks: list[CertifiedDisk]
    replicas: list[Replica]
    reports: list[StagingReport] = []


@register
class StagingFailed(StageFailed):
    event_type = "staging.failed"
    step = StepId.STAGING
    reports: list[StagingReport] = []
