"""What cannot change once the offer is live (AD cpp-update-existing-offer.md), each named by its field.

Offer and publisher ids live in the URL, so the API checks them; here: plan ids (no removal, no
renaming), the data-disk count, the license model, price increases (decreases are fine), new versions
above the live ones, and the hero logo, which cannot be deleted once uploaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from offerflow_contract.events import Reason
from offerflow_shared.names import version_key
from offerflow_shared.offer import IMAGES_KEY, MARKETPLACE
from offerflow_shared.offer_model import PRICING_KEY
from offerflow_shared.offer_rules.common import as_dict, as_list, error, missing, ptr, text
from offerflow_shared.offer_rules.images import data_disk_count
from offerflow_shared.offer_types import is_image_version

HERO = MARKETPLACE + "heroLogo"
_CORES = re.compile(r"(\d+)core")


def _plans(definition: dict[str, Any]) -> Iterator[tuple[str, tuple[str | int, ...], dict[str, Any]]]:
    for i, raw in enumerate(as_list(definition.get("plans"))):
        plan = as_dict(raw)
        yield text(plan.get("planId")), ("plans", i), plan
        for j, gen in enumerate(as_list(plan.get("diskGenerations"))):
            yield text(as_dict(gen).get("planId")), ("plans", i, "diskGenerations", j), as_dict(gen)


def immutable_problems(live_definition: dict[str, Any], new_definition: dict[str, Any]) -> list[Reason]:
    out: list[Reason] = []
    new_plans = {pid: (base, plan) for pid, base, plan in _plans(new_definition) if pid}
    for pid, live_base, live in _plans(live_definition):
        if not pid:
            continue
        if pid not in new_plans:
            out.append(error("plan_removed", ptr(*live_base, "planId"),
                             f"Plan {pid!r} is live: it cannot be removed or renamed."))
            continue
        base, plan = new_plans[pid]
        out += _images(live, plan, base) + _license(live, plan, base)
    live_hero = as_dict(live_definition.get("offer")).get(HERO)
    if not missing(live_hero) and missing(as_dict(new_definition.get("offer")).get(HERO)):
        out.append(error("hero_logo_removed", ptr("offer", HERO), "The hero logo cannot be deleted once uploaded."))
    return out


def _images(live: dict[str, Any], plan: dict[str, Any], base: tuple[str | int, ...]) -> list[Reason]:
    live_versions = {v: img for v, img in as_dict(live.get(IMAGES_KEY)).items() if is_image_version(v)}
    if not live_versions:
        return []
    top = max(live_versions, key=version_key)
    disks = data_disk_count(live_versions[top])
    out: list[Reason] = []
    for version, image in as_dict(plan.get(IMAGES_KEY)).items():
        at = ptr(*base, IMAGES_KEY, version)
        if data_disk_count(image) != disks:
            out.append(error("data_disk_count_changed", at + "/lunVhdDetails",
                             f"The live plan has {disks} data disk(s); version {version} must keep that count."))
        if version not in live_versions and is_image_version(version) and version_key(version) <= version_key(top):
            out.append(error("version_not_increasing", at,
                             f"New version {version} must be higher than the live version {top}."))
    return out


def _license(live: dict[str, Any], plan: dict[str, Any], base: tuple[str | int, ...]) -> list[Reason]:
    old, new = as_dict(live.get(PRICING_KEY)), as_dict(plan.get(PRICING_KEY))
    if isinstance(old.get("isByol"), bool) and new.get("isByol") != old["isByol"]:
        return [error("license_model_changed", ptr(*base, PRICING_KEY, "isByol"),
                      "The license model (BYOL or usage-based) cannot change once live.")]
    if old.get("isByol") is not False:
        return []
    old_m, new_m = as_dict(old.get("coreMultiplier")), as_dict(new.get("coreMultiplier"))
    at = (*base, PRICING_KEY, "coreMultiplier")
    if old_m.get("currency") and new_m.get("currency") != old_m.get("currency"):
        return [error("currency_changed", ptr(*at, "currency"), "The price currency cannot change once live.")]
    old_prices, new_prices = _prices(old_m), _prices(new_m)
    out: list[Reason] = []
    named: set[str] = set()
    for size in sorted(old_prices.keys() | new_prices.keys()):
        before, after = _price_of(old_prices, size), _price_of(new_prices, size)
        if before is None or after is None or after <= before:
            continue
        where = ptr(*at, "individually", size) if size in new_prices and size != "*" else ptr(*at, "single")
        if where not in named:
            named.add(where)
            out.append(error("price_increased", where,
                             f"Prices cannot increase once live ({'per core' if size == '*' else size}: "
                             f"{before:g} → {after:g}); decreases are allowed."))
    return out


def _prices(multiplier: dict[str, Any]) -> dict[str, float]:
    """Per-size prices; a single per-core price is kept as ``*`` and multiplied out when compared."""
    table = {k: float(v) for k, v in as_dict(multiplier.get("individually")).items()
             if isinstance(v, int | float) and not isinstance(v, bool)}
    single = multiplier.get("single")
    if isinstance(single, int | float) and not isinstance(single, bool):
        table["*"] = float(single)
    return table


def _price_of(prices: dict[str, float], size: str) -> float | None:
    if size in prices:
        return prices[size]
    return prices["*"] * _cores(size) if "*" in prices and size != "*" else None


def _cores(size: str) -> int:
    m = _CORES.fullmatch(size)
    return int(m[1]) if m else 1
