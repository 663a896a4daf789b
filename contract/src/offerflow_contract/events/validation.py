from __future__ import annotations

from offerflow_contract.envelope import register
from offerflow_contract.events.base import StageFailed, StagePassed, StageStarted
from offerflow_contract.steps import StepId


@register
class ValidationStarted(StageStarted):
    event_type = "validation.started"
    step = StepId.VALIDATION


@register
class ValidationPassed(StagePassed):
    event_type = "validation.passed"
    step = StepId.VALIDATION


@register
class ValidationFailed(StageFailed):
    event_type = "validation.failed"
    step = StepId.VALIDATION
