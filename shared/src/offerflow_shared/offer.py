"""Read access to the offer document (the API's ``definition``), by the keys the original API used.

The document is kept as the publisher sent it (unknown keys survive round trips), so stages read it
through these accessors instead of a rigid model.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MARKETPLACE = "microsoft-azure-marketplace."
VM = "microsoft-azure-virtualmachines."
COREVM = "microsoft-azure-corevm."
IMAGES_KEY = COREVM + "vmImagesPublicAzure"
OFFER_TYPE_ID = "microsoft-azure-virtualmachines"


def offer_fields(definition: dict[str, Any]) -> dict[str, Any]:
    value = definition.get("offer")
    return value if isinstance(value, dict) else {}


def plans(definition: dict[str, Any]) -> list[dict[str, Any]]:
    value = definition.get("plans")
    return [p for p in value if isinstance(p, dict)] if isinstance(value, list) else []


def marketplace(definition: dict[str, Any], name: str, default: Any = None) -> Any:
    return offer_fields(definition).get(MARKETPLACE + name, default)


@dataclass(frozen=True)
class DiskRef:
    plan_id: str
    image_version: str
    disk: str  # "os" or "lun<N>"
    url: str
    pointer: str  # JSON pointer of the URL field, for messages next to the field


def disks(definition: dict[str, Any]) -> Iterator[DiskRef]:
    """Every OS and data disk URL of every image version of every plan."""
    for i, plan in enumerate(plans(definition)):
        plan_id = str(plan.get("planId", f"plan-{i}"))
        versions = plan.get(IMAGES_KEY)
        if not isinstance(versions, dict):
            continue
        for version, image in versions.items():
            if not isinstance(image, dict):
                continue
            base = f"/plans/{i}/{_escape(IMAGES_KEY)}/{_escape(version)}"
            if isinstance(image.get("osVhdUrl"), str):
                yield DiskRef(plan_id, version, "os", image["osVhdUrl"], base + "/osVhdUrl")
            luns = image.get("lunVhdDetails")
            for j, lun in enumerate(luns if isinstance(luns, list) else []):
                if isinstance(lun, dict) and isinstance(lun.get("lunVhdUrl"), str):
                    n = lun.get("lun", j)
                    yield DiskRef(plan_id, version, f"lun{n}", lun["lunVhdUrl"], f"{base}/lunVhdDetails/{j}/lunVhdUrl")


def _escape(token: str) -> str:
    """RFC 6901 escaping of one JSON pointer token."""
    return token.replace("~", "~0").replace("/", "~1")
