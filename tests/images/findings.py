"""Views of a list of certification findings that the image tests compare against."""

from __future__ import annotations

from offerflow_certification.image.findings import Finding


def failed_ids(findings: list[Finding]) -> set[str]:
    return {f.test_id for f in findings if not f.passed}


def by_id(findings: list[Finding]) -> dict[str, Finding]:
    return {f.test_id: f for f in findings}
