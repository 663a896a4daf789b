from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from offerflow_contract.envelope import register
from offerflow_contract.events.base import StageFailed, StagePassed, StageProgressed, StageStarted
from offerflow_contract.events.certification import CertifiedDisk
from offerflow_contract.steps import StepId


class Replica(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str
    plan_id: str
    image_version: str
    disk: str
    location: str
    sha256: str


@register
class ProvisioningStarted(StageStarted):
    event_type = "provisioning.started"
    step = StepId.PROVISIONING


@register
class ProvisioningProgressed(StageProgressed):
    event_type = "provisioning.progressed"
    step = StepId.PROVISIONING


@register
class ProvisioningPassed(StagePassed):
    event_type = "provisioning.passed"
    step = StepId.PROVISIONING
    disks: list[CertifiedDisk]
    replicas: list[Replica]


@register
class ProvisioningFailed(StageFailed):
    event_type = "provisioning.failed"
    step = StepId.PROVISIONING
