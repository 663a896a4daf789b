"""Disk versions of a plan and their image URLs (including the SAS rules of the reference)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from offerflow_contract.events import Reason
from offerflow_shared.names import VersionKey, version_key
from offerflow_shared.offer import IMAGES_KEY
from offerflow_shared.offer_rules.common import as_dict, as_list, error, missing, ptr, warning
from offerflow_shared.offer_types import is_image_version, is_url

SAS_MIN_VALIDITY = timedelta(weeks=3)
SAS_START_BACK = timedelta(days=1)
# A full ISO 8601 date-time with its zone: the portal refuses date-only st/se values.
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")


def data_disk_count(image: Any) -> int:
    return len(as_list(as_dict(image).get("lunVhdDetails")))


def version_problems(plan: dict[str, Any], base: tuple[str | int, ...]) -> list[Reason]:
    """Versions strictly increasing in document order, no duplicates, the same data-disk count in each."""
    out: list[Reason] = []
    versions = as_dict(plan.get(IMAGES_KEY))
    highest: tuple[str, VersionKey] | None = None
    first_disks: tuple[str, int] | None = None
    seen: dict[VersionKey, str] = {}
    for version, image in versions.items():
        at = ptr(*base, IMAGES_KEY, version)
        if not is_image_version(version):
            continue  # reported by the format rules
        key = version_key(version)
        if key in seen:
            out.append(error("duplicate_version", at, f"Version {version} is the same version as {seen[key]}."))
        elif highest is not None and key < highest[1]:
            out.append(error("version_not_increasing", at,
                             f"Version {version} must be higher than every earlier version (found {highest[0]})."))
        seen.setdefault(key, version)
        if highest is None or key > highest[1]:
            highest = (version, key)
        disks = data_disk_count(image)
        if first_disks is None:
            first_disks = (version, disks)
        elif disks != first_disks[1]:
            out.append(error("data_disk_count_changed", at + "/lunVhdDetails",
                             f"Version {version} has {disks} data disk(s); every version must keep the "
                             f"{first_disks[1]} of version {first_disks[0]}."))
        out += _lun_problems(image, at)
    return out


def _lun_problems(image: Any, at: str) -> list[Reason]:
    out: list[Reason] = []
    seen: set[int] = set()
    for j, lun in enumerate(as_list(as_dict(image).get("lunVhdDetails"))):
        n = as_dict(lun).get("lun")
        if isinstance(n, int) and not isinstance(n, bool):
            if n in seen:
                out.append(error("duplicate_lun", f"{at}/lunVhdDetails/{j}/lun", f"LUN {n} is used twice."))
            seen.add(n)
    return out


def image_url_problems(url: Any, at: str, *, now: datetime) -> list[Reason]:
    """One disk URL: required, well formed, a .vhd with a plain name, and for SAS URLs the SAS rules."""
    if missing(url):
        return [error("required", at, "The VHD URL is required.")]
    if not isinstance(url, str) or not is_url(url, ("https", "http", "file")):
        return []  # reported by the format rules
    parts = urlsplit(url)
    out: list[Reason] = []
    name = parts.path.rsplit("/", 1)[-1]
    if not unquote(parts.path).lower().endswith(".vhd"):
        out.append(error("vhd_extension", at, "The URL must point to a .vhd file (unmanaged VHD)."))
    if any(c in name for c in ' %"'):
        out.append(error("vhd_name_invalid", at, "The VHD file name must not contain spaces, '%' or '\"'."))
    query = parse_qs(parts.query, keep_blank_values=True)
    if "sig" in query:
        out += _sas_problems(query, at, now)
    return out


def _sas_problems(query: dict[str, list[str]], at: str, now: datetime) -> list[Reason]:
    def one(name: str) -> str:
        return query.get(name, [""])[0]

    out: list[Reason] = []
    if sorted(one("sp")) != ["l", "r"]:
        out.append(error("sas_permissions", at,
                         f"The SAS must grant Read and List only (sp=rl), not sp={one('sp')!r}."))
    if one("sr") != "c":
        out.append(error("sas_resource", at, "The SAS must be a container SAS (sr=c)."))
    start = _instant(one("st"))
    if start is None:
        out.append(error("sas_start_invalid", at, "The SAS start (st) must be a full ISO date-time, e.g. "
                                                  "2024-05-01T00:00:00Z."))
    elif start > now - SAS_START_BACK:
        out.append(warning("sas_start_too_late", at, "Start the SAS one day back (st) so clock skew cannot make "
                                                     "it not yet valid."))
    expiry = _instant(one("se"))
    if expiry is None:
        out.append(error("sas_expiry_invalid", at, "The SAS expiry (se) must be a full ISO date-time, e.g. "
                                                   "2024-06-01T00:00:00Z."))
    elif expiry < now + SAS_MIN_VALIDITY:
        out.append(error("sas_expiry_too_soon", at, f"The SAS expires {expiry:%Y-%m-%d %H:%M}Z; it must stay valid "
                                                    "at least 3 weeks from now."))
    return out


def _instant(value: str) -> datetime | None:
    if not _ISO_DATETIME.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def plan_image_problems(plan: dict[str, Any], base: tuple[str | int, ...], *, now: datetime) -> list[Reason]:
    """At least one version, the version rules, and every disk URL of every version."""
    versions = plan.get(IMAGES_KEY)
    if missing(versions) or not isinstance(versions, dict):
        hint = " (the 'microsoft-azure-virtualmachines.vmImages' key is not read: move the versions here)" \
            if plan.get("microsoft-azure-virtualmachines.vmImages") else ""
        return [error("required", ptr(*base, IMAGES_KEY), "At least one VM image version is required" + hint + ".")]
    out = version_problems(plan, base)
    for version, image in versions.items():
        at = ptr(*base, IMAGES_KEY, version)
        out += image_url_problems(as_dict(image).get("osVhdUrl"), at + "/osVhdUrl", now=now)
        for j, lun in enumerate(as_list(as_dict(image).get("lunVhdDetails"))):
            out += image_url_problems(as_dict(lun).get("lunVhdUrl"), f"{at}/lunVhdDetails/{j}/lunVhdUrl", now=now)
    return out
