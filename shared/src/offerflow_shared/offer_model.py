"""The VM offer document as pydantic models, keyed by the original API's namespaced wire names.

Every field is optional because a draft may be incomplete: the models enforce *formats* (id patterns,
lengths, enums, types), never presence; presence is a publish rule (``offer_rules.publish_problems``).
``extra="allow"`` everywhere, so keys we do not model survive a round trip verbatim, and ``strict``
so that nothing is coerced (``"true"`` stays a type error instead of silently becoming ``True``)::

    OfferDocument.model_validate(doc).model_dump(by_alias=True, exclude_unset=True) == doc

The field formats (ids, URLs, image versions, …) are in ``offer_types``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from offerflow_shared.offer import COREVM, IMAGES_KEY, MARKETPLACE, VM
from offerflow_shared.offer_types import (
    ArtifactUrl,
    CorePrices,
    Currency,
    Email,
    Guid,
    ImageVersion,
    PlanId,
    Price,
    Region,
    Text50,
    Text100,
    Text256,
    Text3000,
    Url,
    VmSize,
    rule,
)

LEGACY_IMAGES_KEY = VM + "vmImages"  # the 2017 API example's key; stages read IMAGES_KEY
PRICING_KEY = "virtualMachinePricing"  # not namespaced in the original API
LEAD_CONFIG_KEYS: dict[str, str] = {  # destination → its configuration object on the offer
    "AzureTable": MARKETPLACE + "tableLeadConfiguration",
    "AzureBlob": MARKETPLACE + "blobLeadConfiguration",
    "SalesForce": MARKETPLACE + "salesForceLeadConfiguration",
    "Dynamics": MARKETPLACE + "crmLeadConfiguration",
    "HttpsEndpoint": MARKETPLACE + "httpsEndpointLeadConfiguration",
    "Marketo": MARKETPLACE + "marketoLeadConfiguration",
}
GENERIC_LEAD_CONFIG_KEY = MARKETPLACE + "leadConfiguration"  # one object for any kind (what packaging reads)
# Spellings of leadDestination, compared case-insensitively → the canonical name.
LEAD_DESTINATIONS: dict[str, str] = {
    "none": "None", "azuretable": "AzureTable", "table": "AzureTable", "azureblob": "AzureBlob",
    "blob": "AzureBlob", "salesforce": "SalesForce", "dynamics": "Dynamics", "crm": "Dynamics",
    "dynamicscrm": "Dynamics", "httpsendpoint": "HttpsEndpoint", "https": "HttpsEndpoint", "marketo": "Marketo",
}

LeadDestination = Annotated[str, rule(
    "invalid_enum", "Lead destination is one of None, AzureTable, SalesForce, Dynamics, HttpsEndpoint, Marketo "
    "(AzureBlob is accepted but deprecated).", lambda v: v.strip().lower() in LEAD_DESTINATIONS)]


class Open(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class LunVhd(Open):
    lun: Annotated[int, Field(ge=0, le=63)] | None = None
    lunVhdUrl: ArtifactUrl | None = None


class VmImage(Open):
    """One disk version: the OS disk and the data disks (one per LUN)."""

    osVhdUrl: ArtifactUrl | None = None
    lunVhdDetails: Annotated[list[LunVhd], Field(max_length=16)] | None = None
    label: str | None = None
    mediaName: str | None = None
    publishedDate: str | None = None
    description: str | None = None
    showInGui: bool | None = None


class CoreMultiplier(Open):
    currency: Currency | None = None
    single: Price | None = None  # one price per core and hour
    individually: CorePrices | None = None


class VirtualMachinePricing(Open):
    isByol: bool | None = None
    freeTrialDurationInMonths: Literal[0, 1, 3] | None = None
    coreMultiplier: CoreMultiplier | None = None


ImageVersions = Annotated[dict[ImageVersion, VmImage], Field(max_length=8)]


class Plan(Open):
    """A SKU. Its VM-specific keys are ``microsoft-azure-virtualmachines.*``, its disks ``…corevm.*``."""

    planId: PlanId | None = None
    skuTitle: Text50 | None = Field(None, alias=VM + "skuTitle")
    skuSummary: Text100 | None = Field(None, alias=VM + "skuSummary")
    skuDescription: Text3000 | None = Field(None, alias=VM + "skuDescription")
    hideSKU: bool | None = Field(None, alias=VM + "hideSKUForSolutionTemplate")
    cloudAvailability: list[Literal["PublicAzure", "Fairfax", "Mooncake", "Blackforest"]] | None = Field(
        None, alias=VM + "cloudAvailability")
    regions: list[Region] | None = None
    pricing: VirtualMachinePricing | None = Field(None, alias=PRICING_KEY)
    osFamily: Literal["Windows", "Linux"] | None = Field(None, alias=VM + "operatingSystemFamily")
    windowsOsType: str | None = Field(None, alias=VM + "windowsOSType")
    osType: str | None = Field(None, alias=VM + "osType")
    osFriendlyName: Text100 | None = Field(None, alias=VM + "operationSystem")
    vmSizes: Annotated[list[VmSize], Field(max_length=6)] | None = Field(None, alias=VM + "recommendedVMSizes")
    openPorts: list[Any] | None = Field(None, alias=VM + "openPorts")
    images: ImageVersions | None = Field(None, alias=IMAGES_KEY)
    legacyImages: ImageVersions | None = Field(None, alias=LEGACY_IMAGES_KEY)
    architecture: Literal["x64", "Arm64"] | None = Field(None, alias=COREVM + "vmImagesArchitecture")
    diskGenerations: list[Plan] | None = None  # e.g. a Gen2 variant: its own planId, same image keys


class UsefulLink(Open):
    linkTitle: Text100 | None = None
    linkUrl: Url | None = None


class Category(Open):
    """``{"categoryL1": "analytics", "categoryL2-analytics": [...]}``: the sub-key is named after the L1."""

    categoryL1: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None


class LeadConfiguration(Open):
    """Every kind's settings in one shape; which ones are required depends on the destination."""

    connectionString: str | None = None  # AzureTable / AzureBlob (secret)
    containerName: str | None = None  # AzureBlob
    objectIdentifier: str | None = None  # SalesForce web-to-lead OID
    authenticationType: Literal["azureAD", "office365"] | None = None  # Dynamics
    instanceUrl: Url | None = None  # Dynamics
    applicationId: Guid | None = None  # Dynamics, azureAD
    directoryId: Guid | None = None  # Dynamics, azureAD
    applicationKey: str | None = None  # Dynamics, azureAD (secret)
    userName: str | None = None  # Dynamics, office365
    password: str | None = None  # Dynamics, office365 (secret)
    httpsEndpointUrl: str | None = None  # HttpsEndpoint (secret: it embeds a signature)
    munchkinId: str | None = None  # Marketo
    clientId: str | None = None  # Marketo REST API (LaunchPoint service)
    clientSecret: str | None = None  # Marketo REST API (secret)
    serverId: str | None = None  # Marketo forms (kept; the REST lead push does not need it)
    formId: str | None = None  # Marketo forms (kept)


def _m(name: str) -> Any:
    return Field(None, alias=MARKETPLACE + name)


class OfferSettings(Open):
    """The offer's marketplace content, artifacts, leads, legal and support (``microsoft-azure-marketplace.*``)."""

    title: Text50 | None = _m("title")
    summary: Text100 | None = _m("summary")
    longSummary: Text256 | None = _m("longSummary")
    description: Text3000 | None = _m("description")
    cspOfferOptIn: bool | None = _m("cspOfferOptIn")
    marketingId: Text50 | None = _m("offerMarketingUrlIdentifier")
    allowedSubscriptions: Annotated[list[Guid], Field(max_length=100)] | None = _m("allowedSubscriptions")
    usefulLinks: list[UsefulLink] | None = _m("usefulLinks")
    categoryMap: Annotated[list[Category], Field(max_length=2)] | None = _m("categoryMap")
    smallLogo: ArtifactUrl | None = _m("smallLogo")
    mediumLogo: ArtifactUrl | None = _m("mediumLogo")
    largeLogo: ArtifactUrl | None = _m("largeLogo")
    wideLogo: ArtifactUrl | None = _m("wideLogo")
    heroLogo: ArtifactUrl | None = _m("heroLogo")
    screenshots: Annotated[list[Any], Field(max_length=5)] | None = _m("screenshots")
    videos: list[Any] | None = _m("videos")
    leadDestination: LeadDestination | None = _m("leadDestination")
    tableLead: LeadConfiguration | None = _m("tableLeadConfiguration")
    blobLead: LeadConfiguration | None = _m("blobLeadConfiguration")
    salesForceLead: LeadConfiguration | None = _m("salesForceLeadConfiguration")
    crmLead: LeadConfiguration | None = _m("crmLeadConfiguration")
    httpsEndpointLead: LeadConfiguration | None = _m("httpsEndpointLeadConfiguration")
    marketoLead: LeadConfiguration | None = _m("marketoLeadConfiguration")
    leadConfiguration: LeadConfiguration | None = _m("leadConfiguration")
    privacyURL: Url | None = _m("privacyURL")
    useEnterpriseContract: bool | None = _m("useEnterpriseContract")
    termsOfUse: str | None = _m("termsOfUse")
    termsOfUseURL: Url | None = _m("termsOfUseURL")
    publisherDisplayName: Text100 | None = _m("publisherDisplayName")
    engineeringContactName: Text100 | None = _m("engineeringContactName")
    engineeringContactEmail: Email | None = _m("engineeringContactEmail")
    engineeringContactPhone: Text50 | None = _m("engineeringContactPhone")
    supportContactName: Text100 | None = _m("supportContactName")
    supportContactEmail: Email | None = _m("supportContactEmail")
    supportContactPhone: Text50 | None = _m("supportContactPhone")
    publicAzureSupportUrl: Url | None = _m("publicAzureSupportUrl")
    fairfaxSupportUrl: Url | None = _m("fairfaxSupportUrl")


class Definition(Open):
    displayText: Text100 | None = None
    offer: OfferSettings | None = None
    plans: list[Plan] | None = None


class OfferDocument(Open):
    """The body of ``PUT /offers/{offerId}`` and of ``GET``: ``version`` and ``id`` are the server's."""

    offerTypeId: Literal["microsoft-azure-virtualmachines"] | None = None
    publisherId: str | None = None
    id: str | None = None
    version: int | None = None
    definition: Definition | None = None

