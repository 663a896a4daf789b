"""Presence: what publishing needs that a draft may still lack."""

from __future__ import annotations

from typing import Any

from offerflow_contract.events import Reason
from offerflow_shared.offer import MARKETPLACE as M
from offerflow_shared.offer import VM
from offerflow_shared.offer_model import PRICING_KEY
from offerflow_shared.offer_rules.common import as_dict, error, missing, ptr

OFFER_FIELDS: dict[str, str] = {
    M + "title": "Title",
    M + "summary": "Summary",
    M + "longSummary": "Long summary",
    M + "description": "Description",
    M + "offerMarketingUrlIdentifier": "Marketing identifier",
    M + "categoryMap": "At least one category",
    M + "smallLogo": "The small logo (40x40)",
    M + "mediumLogo": "The medium logo (90x90)",
    M + "largeLogo": "The large logo (115x115)",
    M + "wideLogo": "The wide logo (255x115)",
    M + "privacyURL": "Privacy policy URL",
    M + "termsOfUse": "Terms of use",
    M + "engineeringContactName": "Engineering contact name",
    M + "engineeringContactEmail": "Engineering contact email",
    M + "engineeringContactPhone": "Engineering contact phone",
    M + "supportContactName": "Customer support contact name",
    M + "supportContactEmail": "Customer support contact email",
    M + "supportContactPhone": "Customer support contact phone",
}
PLAN_FIELDS: dict[str, str] = {
    VM + "skuTitle": "Plan title",
    VM + "skuSummary": "Plan summary",
    VM + "skuDescription": "Plan description",
    VM + "cloudAvailability": "At least one cloud",
    "regions": "At least one country/region",
    VM + "operatingSystemFamily": "OS family",
    VM + "operationSystem": "OS friendly name",
    VM + "recommendedVMSizes": "At least one recommended VM size",
}
SUBSCRIPTIONS = M + "allowedSubscriptions"


def offer_required(offer: dict[str, Any]) -> list[Reason]:
    out = [error("required", ptr("offer", key), f"{label} is required.")
           for key, label in OFFER_FIELDS.items() if missing(offer.get(key))]
    if missing(offer.get(SUBSCRIPTIONS)):
        out.append(error("too_few", ptr("offer", SUBSCRIPTIONS),
                         "At least one preview subscription ID (up to 100) is required."))
    return out


def plan_required(plan: dict[str, Any], base: tuple[str | int, ...], *, generation: bool = False) -> list[Reason]:
    """A disk generation (``diskGenerations[]``) is a further plan: it needs its own id and images only."""
    out: list[Reason] = []
    if missing(plan.get("planId")):
        out.append(error("required", ptr(*base, "planId"), "Plan ID is required."))
    if generation:
        return out
    out += [error("required", ptr(*base, key), f"{label} is required.")
            for key, label in PLAN_FIELDS.items() if missing(plan.get(key))]
    pricing = as_dict(plan.get(PRICING_KEY))
    if not isinstance(pricing.get("isByol"), bool):
        out.append(error("required", ptr(*base, PRICING_KEY, "isByol"),
                         "The license model is required: isByol true (BYOL) or false (usage-based)."))
    elif pricing["isByol"] is False:
        multiplier = as_dict(pricing.get("coreMultiplier"))
        if missing(multiplier.get("single")) and missing(multiplier.get("individually")):
            out.append(error("required", ptr(*base, PRICING_KEY, "coreMultiplier"),
                             "A usage-based plan needs prices: coreMultiplier.single (per core) or .individually."))
        elif missing(multiplier.get("currency")):
            out.append(error("required", ptr(*base, PRICING_KEY, "coreMultiplier", "currency"),
                             "The price currency is required (e.g. USD)."))
    return out
