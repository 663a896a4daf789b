"""Merges the technical content (plans, images, replicas) and the marketing content into one listing.

The listing is the machine-readable ``listing.json`` and the only input of the page template, so the
page and the JSON never disagree. Pure: no I/O (the artifacts were copied before, see ``assets.py``).

Logos and screenshots are paths relative to the slot (``assets/<file>``): under ``/apps/{slug}/`` they
resolve to the live copies; the page template turns them into absolute storefront paths per slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from offerflow_contract.events import OfferSnapshot, Replica
from offerflow_packaging import rules
from offerflow_packaging.assets import LOGOS, MAX_SCREENSHOTS, Assets
from offerflow_packaging.sanitize import clean_html, safe_url, text
from offerflow_shared.offer import IMAGES_KEY, VM, marketplace, plans

SCHEMA = 1
# The platform always opens these, whatever the plan lists.
DEFAULT_PORTS = {"windows": ["3389/TCP", "5986/TCP"], "linux": ["22/TCP"]}


def build_listing(
    publisher: str, offer: str, snapshot: OfferSnapshot, replicas: Sequence[Replica], assets: Assets
) -> dict[str, Any]:
    d = snapshot.definition
    return {
        "schema": SCHEMA,
        "slug": rules.slug(publisher, offer),
        "publisher": {"id": publisher, "name": text(marketplace(d, "publisherDisplayName")) or publisher},
        "offer": {"id": offer, "version": snapshot.offer_version},
        "title": text(marketplace(d, "title"), 50),
        "summary": text(marketplace(d, "summary"), 100),
        "long_summary": text(marketplace(d, "longSummary"), 256),
        "description_html": clean_html(marketplace(d, "description")),
        "logos": {name: assets.logos.get(name) for name in LOGOS},
        "screenshots": assets.screenshots[:MAX_SCREENSHOTS],
        "links": {
            "privacy": safe_url(marketplace(d, "privacyURL")),
            "terms": safe_url(marketplace(d, "termsOfUseURL")),
            "support": safe_url(marketplace(d, "publicAzureSupportUrl") or marketplace(d, "supportURL")),
            "useful": _useful_links(marketplace(d, "usefulLinks")),
        },
        "terms_of_use_html": clean_html(marketplace(d, "termsOfUse")),
        "plans": [_plan(p, i, replicas) for i, p in enumerate(plans(d))],
    }


def _plan(plan: dict[str, Any], index: int, replicas: Sequence[Replica]) -> dict[str, Any]:
    plan_id = str(plan.get("planId", f"plan-{index}"))
    versions = plan.get(IMAGES_KEY)
    version_names = [str(v) for v in versions] if isinstance(versions, dict) else []
    family = text(plan.get(VM + "operatingSystemFamily"))
    return {
        "id": plan_id,
        "title": text(plan.get(VM + "skuTitle"), 50),
        "summary": text(plan.get(VM + "skuSummary"), 100),
        "license_model": _license_model(plan.get(VM + "virtualMachinePricing")),
        "os_family": family,
        "os_name": text(plan.get(VM + "operationSystem")),
        "vm_sizes": [s for s in _strings(plan.get(VM + "recommendedVMSizes"))][:6],
        "open_ports": _ports(plan.get(VM + "openPorts"), family),
        "image_version": rules.highest_version(version_names),
        "regions": sorted({r.region for r in replicas if r.plan_id == plan_id}),
    }


def _license_model(pricing: Any) -> str | None:
    if not isinstance(pricing, dict) or "isByol" not in pricing:
        return None
    return "Bring your own license" if pricing["isByol"] else "Usage-based (pay as you go)"


def _ports(value: Any, family: str) -> list[str]:
    ports = list(DEFAULT_PORTS.get(family.lower(), []))
    for p in value if isinstance(value, list) else []:
        if isinstance(p, dict) and p.get("port") is not None:
            port = f"{p['port']}/{str(p.get('protocol', 'TCP')).upper()}"
        elif isinstance(p, str | int):
            port = str(p)
        else:
            continue
        if port not in ports:
            ports.append(port)
    return ports


def _strings(value: Any) -> list[str]:
    return [v.strip() for v in value if isinstance(v, str) and v.strip()] if isinstance(value, list) else []


def _useful_links(value: Any) -> list[dict[str, str]]:
    links: list[dict[str, str]] = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict) and (url := safe_url(item.get("linkUrl"))) is not None:
            links.append({"title": text(item.get("linkTitle"), 100) or url, "url": url})
    return links
