"""Result and error types shared by the image inspectors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Result = Literal["Passed", "Warning", "Failed"]


class ImageError(Exception):
    """The image cannot be inspected at all (unreadable, too short, ...).

    Distinct from a failed `Finding`: a finding reports a readable image that
    breaks a rule, whereas this means no rule could be evaluated.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Finding:
    """Outcome of one certification rule, shaped for a publisher-facing report.

    ``warning`` marks a test that did not fail but needs the publisher's attention, including every
    test that cannot be judged offline: such a test is never reported as a pass.
    """

    test_id: str
    name: str
    passed: bool
    actual: str
    required: str
    warning: bool = False

    @property
    def result(self) -> Result:
        if not self.passed:
            return "Failed"
        return "Warning" if self.warning else "Passed"


def passed(test_id: str, name: str, actual: str, required: str) -> Finding:
    return Finding(test_id, name, True, actual, required)


def failed(test_id: str, name: str, actual: str, required: str) -> Finding:
    return Finding(test_id, name, False, actual, required)


def warned(test_id: str, name: str, actual: str, required: str) -> Finding:
    return Finding(test_id, name, True, actual, required, warning=True)


def judged(test_id: str, name: str, ok: bool, actual: str, required: str) -> Finding:
    return Finding(test_id, name, ok, actual, required)
