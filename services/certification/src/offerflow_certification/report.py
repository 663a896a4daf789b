"""Running the certifier on a fetched image and shaping its findings as a report.

The service runs `run_format` and `run_os` (reporting progress between the two) and `offerflow certify` runs
both through `run_tests`: the publisher's self-test is the same test as certification's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from offerflow_certification.adapters.source import LocalImage
from offerflow_certification.image import linux_threats
from offerflow_certification.image.catalog import TESTS, description_of, name_of, number_of
from offerflow_certification.image.certifier import CERTIFIER_VERSION, OsResult, Profile, format_tests, os_tests
from offerflow_certification.image.findings import Finding, ImageError
from offerflow_certification.image.packages import Inventory
from offerflow_certification.inventory import bounded
from offerflow_contract.events import DiskReport, TestOutcome


@dataclass(frozen=True)
class DiskId:
    plan_id: str
    image_version: str
    disk: str
    url: str


def run_format(image: LocalImage, profile: Profile) -> list[Finding]:
    try:
        with open(image.path, "rb") as f:
            return format_tests(f, image.size, profile)
    except OSError as exc:
        raise ImageError(f"cannot read the image: {exc.strerror or exc}") from exc


@dataclass
class OsRun:
    """The OS tests' result and the package inventory test 50 read (None: no Linux root, or not read)."""

    result: OsResult
    inventory: Inventory | None = field(default=None)

    @property
    def findings(self) -> list[Finding]:
        return self.result.findings

    @property
    def os_name(self) -> str | None:
        return self.result.os_name

    @property
    def kernel_version(self) -> str | None:
        return self.result.kernel_version


def run_os(image: LocalImage, profile: Profile) -> OsRun:
    try:
        with open(image.path, "rb") as f, linux_threats.collecting() as seen:
            result = os_tests(f, image.size, profile)
    except OSError as exc:
        raise ImageError(f"cannot read the image: {exc.strerror or exc}") from exc
    inventory = next((i for i in seen if isinstance(i, Inventory)), None)
    return OsRun(result, inventory)


def run_tests(image: LocalImage, profile: Profile) -> tuple[list[Finding], OsRun]:
    return run_format(image, profile), run_os(image, profile)


def outcome(f: Finding) -> TestOutcome:
    return TestOutcome(test_id=f.test_id, number=number_of(f.test_id),
                       test_case_name=TESTS.get(f.test_id, (f.name, ""))[0], description=description_of(f.test_id),
                       result=f.result, actual_value=f.actual, required_value=f.required)


def build(disk: DiskId, image: LocalImage, findings: list[Finding], os_run: OsRun) -> DiskReport:
    tests = [outcome(f) for f in [*findings, *os_run.findings]]
    return DiskReport(plan_id=disk.plan_id, image_version=disk.image_version, disk=disk.disk, url=disk.url,
                      sha256=image.sha256, size_bytes=image.size, certifier_version=CERTIFIER_VERSION,
                      os_name=os_run.os_name, kernel_version=os_run.kernel_version,
                      test_result="Fail" if any(t.result == "Failed" for t in tests) else "Pass", tests=tests,
                      packages=bounded(os_run.inventory) if os_run.inventory is not None else None)


def unreadable(disk: DiskId, why: str) -> DiskReport:
    test = TestOutcome(test_id="image.readable", number=number_of("image.readable"),
                       test_case_name=name_of("image.readable"),
                       description=description_of("image.readable"), result="Failed", actual_value=why,
                       required_value="a readable fixed VHD")
    return DiskReport(plan_id=disk.plan_id, image_version=disk.image_version, disk=disk.disk, url=disk.url,
                      certifier_version=CERTIFIER_VERSION, test_result="Fail", tests=[test])


def reused(disk: DiskId, stored: DiskReport, run_id: str) -> DiskReport:
    return stored.model_copy(update={"plan_id": disk.plan_id, "image_version": disk.image_version,
                                     "disk": disk.disk, "url": disk.url, "reused_from_run": run_id})


def self_test_document(report: DiskReport) -> dict[str, Any]:
    """The report in the original self-test tool's Response shape (its field names and casing)."""
    return {
        "SchemaVersion": 1,
        "AppCertificationCategory": "Microsoft Single VM Certification",
        "CertifierVersion": report.certifier_version,
        "ImageUrl": report.url,
        "Sha256": report.sha256,
        "SizeBytes": report.size_bytes,
        "OSName": report.os_name,
        "KernelVersion": report.kernel_version,
        "TestResult": report.test_result,
        "ReusedFromRun": report.reused_from_run,
        "Tests": [self_test_row(t) for t in report.tests],
    }


def self_test_row(t: TestOutcome) -> dict[str, Any]:
    """One test as the original tool wrote it (numeric TestID), with our stable key beside it."""
    return {"TestID": t.number, "TestKey": t.test_id, "TestCaseName": t.test_case_name,
            "Description": t.description, "Result": t.result, "ActualValue": t.actual_value,
            "RequiredValue": t.required_value}
