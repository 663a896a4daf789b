"""Result and error types shared by the image inspectors."""

from __future__ import annotations

from dataclasses import dataclass


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
    """Outcome of one certification rule, shaped for a publisher-facing report."""

    test_id: str
    name: str
    passed: bool
    actual: str
    required: str
