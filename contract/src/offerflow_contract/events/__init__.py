"""Every event of the publishing lifecycle, one module per family.

Importing this package registers every event type with the envelope registry.
"""

from offerflow_contract.events.base import (
    OfferSnapshot,
    Reason,
    StageFailed,
    StagePassed,
    StageProgressed,
    StageStarted,
)
from offerflow_contract.events.certification import (
    CertificationFailed,
    CertificationPassed,
    CertificationProgressed,
    CertificationStarted,
    CertifiedDisk,
    DiskReport,
    InstalledPackage,
    PackageInventory,
    TestOutcome,
)
from offerflow_contract.events.notification import NotificationSent
from offerflow_contract.events.packaging import (
    GoLiveFailed,
    OfferWentLive,
    PackagingFailed,
    PackagingPassed,
    PackagingProgressed,
    PackagingStarted,
    PreviewAudienceChanged,
    PreviewReady,
    PreviewWithdrawn,
)
from offerflow_contract.events.provisioning import (
    ProvisioningFailed,
    ProvisioningPassed,
    ProvisioningProgressed,
    ProvisioningStarted,
    Replica,
)
from offerflow_contract.events.publishing import (
    CancelRequested,
    GoLiveRequested,
    OfferDraftSaved,
    PublishCanceled,
    PublishRequested,
    StepOverdue,
    StepTimedOut,
    SupportRequestOpened,
)
from offerflow_contract.events.staging import (
    StagingCheck,
    StagingFailed,
    StagingPassed,
    StagingProgressed,
    StagingReport,
    StagingStarted,
)
from offerflow_contract.events.support import (
    SupportRequestAnswered,
    SupportRequestClosed,
    SupportRequestReplied,
)
from offerflow_contract.events.validation import (
    ValidationFailed,
    ValidationPassed,
    ValidationStarted,
)

__all__ = [
    "CancelRequested",
    "CertificationFailed",
    "CertificationPassed",
    "CertificationProgressed",
    "CertificationStarted",
    "CertifiedDisk",
    "DiskReport",
    "GoLiveFailed",
    "GoLiveRequested",
    "InstalledPackage",
    "NotificationSent",
    "OfferDraftSaved",
    "OfferSnapshot",
    "OfferWentLive",
    "PackageInventory",
    "PackagingFailed",
    "PackagingPassed",
    "PackagingProgressed",
    "PackagingStarted",
    "PreviewAudienceChanged",
    "PreviewReady",
    "PreviewWithdrawn",
    "ProvisioningFailed",
    "ProvisioningPassed",
    "ProvisioningProgressed",
    "ProvisioningStarted",
    "PublishCanceled",
    "PublishRequested",
    "Reason",
    "Replica",
    "StageFailed",
    "StagePassed",
    "StageProgressed",
    "StageStarted",
    "StagingCheck",
    "StagingFailed",
    "StagingPassed",
    "StagingProgressed",
    "StagingReport",
    "StagingStarted",
    "StepOverdue",
    "StepTimedOut",
    "SupportRequestAnswered",
    "SupportRequestClosed",
    "SupportRequestOpened",
    "SupportRequestReplied",
    "TestOutcome",
    "ValidationFailed",
    "ValidationPassed",
    "ValidationStarted",
]
