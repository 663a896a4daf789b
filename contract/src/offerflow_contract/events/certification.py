from __future__ import annotations

import csv
import io
from typing import Final, Literal

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


# The inventory's share of one disk report on the topic, as serialized JSON: a certification outcome carries every
# disk's report in one message, and the broker's default message limit is 1 MiB.
INVENTORY_MAX_BYTES: Final = 160 * 1024


class TestOutcome(BaseModel):
    """One test of the report, in the shape of the original self-test tool's result."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    test_id: str  # the stable key ("linux.bash_history"): reasons and stored reports use it
    # The report's TestID: the original tool's number for the tests it had (39-52), ours from 1000 up; 0 only for
    # a v1 event's test that the v2 upcaster could not number.
    number: int = Field(ge=0)
    test_case_name: str
    description: str
    result: Literal["Passed", "Warning", "Failed"]
    actual_value: str
    required_value: str


class InstalledPackage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    source: str  # the source package (dpkg's Source, rpm's SOURCERPM name); the name when there is none
    architecture: str


class PackageInventory(BaseModel):
    """The packages installed in the image, as its package database lists them (an attachment of the report)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["dpkg", "rpm"]
    database: str  # the path read inside the image
    total: int = Field(ge=0)  # packages installed; more than len(packages) when the list was cut to the bound
    packages: list[InstalledPackage]

    @property
    def truncated(self) -> bool:
        return self.total > len(self.packages)

    def csv(self) -> str:
        """The inventory as CSV (header row first), the same from the API and from `offerflow certify`."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(INVENTORY_COLUMNS)
        for p in self.packages:
            # A leading = + - @ makes spreadsheets evaluate the cell: quote it as text.
            writer.writerow(["'" + v if v[:1] in ("=", "+", "-", "@") else v
                             for v in (p.name, p.version, p.source, p.architecture)])
        return out.getvalue()


INVENTORY_COLUMNS: Final = ("name", "version", "source", "architecture")


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
    packages: PackageInventory | None = None  # Linux OS disks with a readable package database


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
    schema_version = 2  # v2: TestOutcome.number, DiskReport.packages (upcasters.py reads v1)
    step = StepId.CERTIFICATION
    disks: list[CertifiedDisk]
    reports: list[DiskReport] = []


@register
class CertificationFailed(StageFailed):
    event_type = "certification.failed"
    schema_version = 2  # as certification.passed
    step = StepId.CERTIFICATION
    reports: list[DiskReport] = []
