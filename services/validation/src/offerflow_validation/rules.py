"""Pure decisions: which required fields of the offer are missing. No I/O."""

from __future__ import annotations

from typing import Any

from offerflow_shared.events import Reason
from offerflow_shared.offer import IMAGES_KEY, MARKETPLACE, VM, offer_fields, plans

REQUIRED_OFFER_FIELDS: dict[str, str] = {
    "title": "Title",
    "summary": "Summary",
    "longSummary": "Long summary",
    "description": "Description",
    "privacyURL": "Privacy policy URL",
}
REQUIRED_PLAN_FIELDS: dict[str, str] = {
    VM + "skuTitle": "Plan title",
    VM + "skuSummary": "Plan summary",
    VM + "operatingSystemFamily": "OS family",
}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and len(value) == 0)


def _ptr(*tokens: str | int) -> str:
    return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in tokens)


def check(definition: dict[str, Any]) -> list[Reason]:
    """Every problem at once, each next to its field (a JSON pointer into the document)."""
    problems: list[Reason] = []
    fields = offer_fields(definition)
    for name, label in REQUIRED_OFFER_FIELDS.items():
        if _missing(fields.get(MARKETPLACE + name)):
            problems.append(Reason(code="required", field=_ptr("offer", MARKETPLACE + name),
                                   message=f"{label} is required."))
    subs = fields.get(MARKETPLACE + "allowedSubscriptions")
    if _missing(subs):
        problems.append(Reason(code="required", field=_ptr("offer", MARKETPLACE + "allowedSubscriptions"),
                               message="At least one preview subscription ID is required."))
    plan_list = plans(definition)
    if not plan_list:
        problems.append(Reason(code="required", field="/plans", message="At least one plan is required."))
    for i, plan in enumerate(plan_list):
        if _missing(plan.get("planId")):
            problems.append(Reason(code="required", field=_ptr("plans", i, "planId"), message="Plan ID is required."))
        for key, label in REQUIRED_PLAN_FIELDS.items():
            if _missing(plan.get(key)):
                problems.append(Reason(code="required", field=_ptr("plans", i, key), message=f"{label} is required."))
        versions = plan.get(IMAGES_KEY)
        if not isinstance(versions, dict) or not versions:
            problems.append(Reason(code="required", field=_ptr("plans", i, IMAGES_KEY),
                                   message="At least one VM image version is required."))
            continue
        for version, image in versions.items():
            if not isinstance(image, dict) or _missing(image.get("osVhdUrl")):
                problems.append(Reason(code="required", field=_ptr("plans", i, IMAGES_KEY, version, "osVhdUrl"),
                                       message=f"OS VHD URL of image version {version} is required."))
    return problems


def summary(problems: list[Reason]) -> str:
    n = len(problems)
    return f"{n} required field{'s are' if n != 1 else ' is'} missing or invalid: " + "; ".join(
        p.message for p in problems[:5]) + (" …" if n > 5 else "")
