"""The API's response bodies, so that the OpenAPI document describes every answer.

Field names are the wire names of the original API (camelCase, and the self-test tool's ``OSName``/``Tests``).
Routes are declared with ``response_model_exclude_unset=True``: a key a document leaves out (a message without
``field``, the status of an offer never published without ``runId``) stays out of the JSON, as before.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Body(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- the status document -------------------------------------------------------------------------

class StatusMessage(Body):
    messageHtml: str
    level: str
    timestamp: str
    field: str | None = None
    code: str | None = None


class StagingCheckResult(Body):
    checkId: str
    name: str
    result: str  # Passed, Warning, Failed, NotRun
    actual: str
    required: str
    seconds: float | None = None  # since power-on, when the milestone was seen


class StagingPlanSummary(Body):
    """One plan's boot on the staging step of the status document (the console is at the staging route)."""

    planId: str
    imageVersion: str
    result: str  # Pass or Fail
    summary: str
    firstMissing: str | None = None
    seconds: float
    checks: list[StagingCheckResult]


class StepDocument(Body):
    id: str
    stepName: str
    description: str
    estimatedTimeFrame: str
    nextSteps: str
    status: str
    progressPercentage: int
    messages: list[StatusMessage]
    startedAt: str | None = None
    finishedAt: str | None = None
    # Added when the API serves the document (eta.py): the ETA's bound in seconds, and whether the step is late.
    etaSeconds: int | None = None
    etaSamples: int | None = None  # the finished runs the ETA was measured from; None: the static ETA
    overdue: bool | None = None
    # The staging step, once it passed or failed: each plan's boot, check by check.
    stagingReports: list[StagingPlanSummary] | None = None


class StatusDocument(Body):
    """``GET …/status``: the offer's current run (or ``neverPublished``), every step in order."""

    status: str
    messages: list[StatusMessage]
    steps: list[StepDocument]
    previewLinks: list[str]
    liveLinks: list[str]
    notificationEmails: str | None = None
    runId: str | None = None
    offerVersion: int | None = None
    currentStep: str | None = None
    cancellationRequestState: str | None = None


class OperationDocument(StatusDocument):
    """``GET …/operations/{id}``: that run's status document."""

    id: str
    publishingVersion: int | None = None


# --- offers --------------------------------------------------------------------------------------

class OfferType(Body):
    offerTypeId: str
    displayText: str


class SummaryDefinition(Body):
    displayText: str | None = None


class OfferSummary(Body):
    offerTypeId: str
    publisherId: str
    id: str
    version: int
    status: str
    currentStep: str | None = None
    stepSince: str | None = None
    definition: SummaryDefinition
    changedTime: str | None = None


class Offer(Body):
    """An offer document; secrets never leave the server."""

    offerTypeId: str
    publisherId: str
    id: str
    version: int
    status: str
    definition: dict[str, Any]
    changedTime: str | None = None  # ISO-8601 UTC: the offer's latest change, as the list shows it


class Problem(Body):
    code: str
    target: str
    field: str
    message: str
    level: str


class LastRunMessages(Body):
    runId: str | None = None
    messages: list[StatusMessage]


class Validation(Body):
    problems: list[Problem]
    lastRun: LastRunMessages


# --- publishing ----------------------------------------------------------------------------------

class SubmissionMetadata(Body):
    emails: str | None = None


class SubmissionDefinition(Body):
    metadata: SubmissionMetadata


class Submission(Body):
    id: str
    offerId: str
    offerVersion: int | None = None
    offerTypeId: str
    publisherId: str
    submissionType: str
    submissionState: str
    status: str
    publishingVersion: int | None = None
    slot: str
    definition: SubmissionDefinition
    changedTime: str


class SelfTest(Body):
    TestID: int  # the original tool's number (39-52), ours from 1000 (services/certification/README.md)
    TestKey: str  # the stable key, e.g. linux.bash_history
    TestCaseName: str
    Description: str
    Result: str
    ActualValue: str
    RequiredValue: str


class PackageSummary(Body):
    """The size of a disk's package inventory; the list is ``…/certification/inventory`` (JSON or CSV)."""

    format: str  # dpkg or rpm
    database: str
    total: int
    listed: int  # fewer than total when the list was cut to its bound on the topic


class DiskCertification(Body):
    planId: str
    imageVersion: str
    disk: str
    sha256: str | None = None
    certifierVersion: str
    reusedFromRun: str | None = None
    OSName: str | None = None
    KernelVersion: str | None = None
    TestResult: str
    Tests: list[SelfTest]
    packages: PackageSummary | None = None  # set when the disk's package inventory was read


class CertificationReport(Body):
    runId: str
    TestResult: str
    reports: list[DiskCertification]


class StagingPlanReport(Body):
    planId: str
    imageVersion: str
    region: str
    location: str
    accelerator: str  # tcg (emulated) or kvm
    TestResult: str
    summary: str
    firstMissing: str | None = None
    seconds: float
    consoleTruncated: bool
    hasConsole: bool
    checks: list[StagingCheckResult]


class StagingReports(Body):
    """``GET …/operations/{id}/staging``: each plan's boot, like the certification report (the console log is
    ``…/staging/console``, as text)."""

    runId: str
    TestResult: str
    reports: list[StagingPlanReport]


class HistoryEntry(Body):
    """A command (with the HTTP status it got) or an event (``outcome`` is its producer)."""

    time: str
    kind: str
    action: str
    outcome: str
    httpStatus: int | None = None
    runId: str | None = None
    detail: str | None = None


class SupportRequest(Body):
    id: str
    offerId: str
    runId: str | None = None
    step: str
    title: str
    messages: list[str]


# --- administration ------------------------------------------------------------------------------

class Publisher(Body):
    publisherId: str
    displayName: str


class PublisherListed(Publisher):
    createdAt: str


class TokenListed(Body):
    id: str
    name: str
    createdAt: str
    revokedAt: str | None = None


class TokenCreated(Body):
    """The token's secret is shown here once, never again."""

    id: str
    token: str
    publisherId: str
    name: str
    createdAt: str
