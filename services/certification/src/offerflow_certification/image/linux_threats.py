"""Test 50, Security threats: installed packages against the advisories of high-profile vulnerabilities."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .advisories import ADVISORIES, COVERED, Advisory
from .catalog import name_of
from .ext4 import Ext4
from .findings import Finding, failed, passed, warned
from .packages import Inventory, NoInventory, Package, inventory_or_error
from .pkgversions import compare_to_fix

TEST_ID = "linux.security_threats"
_RHEL_LIKE = {"rhel", "centos", "rocky", "almalinux", "ol"}
# The inventory this test read, handed to the report (its downloadable attachment) without a second read of the
# package database: the certifier's result carries findings only, so the report collects it around the OS tests.
_COLLECTED: ContextVar[list[Inventory | NoInventory] | None] = ContextVar("collected_inventories", default=None)


@contextmanager
def collecting() -> Iterator[list[Inventory | NoInventory]]:
    """Within this block, every inventory test 50 reads is appended to the yielded list."""
    seen: list[Inventory | NoInventory] = []
    token = _COLLECTED.set(seen)
    try:
        yield seen
    finally:
        _COLLECTED.reset(token)


def _os_release(fs: Ext4) -> dict[str, str]:
    data = fs.read_path("/etc/os-release", 1 << 16) or fs.read_path("/usr/lib/os-release", 1 << 16) or b""
    out = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip().strip("\"'")
    return out


def release_of(fs: Ext4) -> str | None:
    """The release key of the advisories ("debian:12", "ubuntu:22.04", "rhel:9"), or None if not recognised."""
    info = _os_release(fs)
    ids = {info.get("ID", "").lower(), *info.get("ID_LIKE", "").lower().split()}
    version = info.get("VERSION_ID", "")
    if info.get("ID", "").lower() == "ubuntu" and version:
        return f"ubuntu:{version}"
    if info.get("ID", "").lower() == "debian" or (not info and fs.lookup("/etc/debian_version")):
        version = version or (fs.read_path("/etc/debian_version", 256) or b"").decode("ascii", "replace")
        major = re.match(r"\s*(\d+)", version)
        return f"debian:{major.group(1)}" if major else None
    if ids & _RHEL_LIKE:
        major = re.match(r"(\d+)", version)
        return f"rhel:{major.group(1)}" if major else None
    if not info:  # RHEL 6 and its rebuilds have no os-release, only redhat-release
        text = (fs.read_path("/etc/redhat-release", 1024) or b"").decode("utf-8", "replace")
        m = re.search(r"(Red Hat Enterprise Linux|CentOS|Rocky|AlmaLinux|Oracle Linux).* release (\d+)", text)
        return f"rhel:{m.group(2)}" if m else None
    return None


def _installed(inventory: Inventory, advisory: Advisory) -> list[Package]:
    return [p for p in inventory.packages if p.source in advisory.sources]


def assess(inventory: Inventory, release: str) -> tuple[list[str], list[str]]:
    """(vulnerable packages, advisories this release has no data for) as report lines.

    A package is vulnerable when its source version sorts before the release's first fixed version under the
    package manager's own ordering; a fixed version printed without an epoch takes the installed package's.
    """
    vulnerable, unknown = [], []
    for advisory in ADVISORIES:
        found = _installed(inventory, advisory)
        if not found or release in advisory.not_affected:
            continue
        if release not in advisory.fixed:
            unknown.append(f"{advisory.cve} ({advisory.name}): no data for {release}, "
                           f"installed {', '.join(f'{p.name} {p.version}' for p in found[:3])}")
            continue
        fixed, source = advisory.fixed[release]
        for p in found:
            if fixed is None:
                vulnerable.append(f"{p.name} {p.version}: {advisory.cve} {advisory.name}, no fixed version for "
                                  f"{release} ({source})")
            elif compare_to_fix(inventory.format, p.source_version, fixed) < 0:
                vulnerable.append(f"{p.name} {p.version} (source {p.source} {p.source_version}) < {fixed}: "
                                  f"{advisory.cve} {advisory.name} ({source})")
    return vulnerable, unknown


def check_security_threats(fs: Ext4, inventory: Inventory | NoInventory | None = None) -> Finding:
    required = "no package older than its distribution's fix for " + ", ".join(a.cve for a in ADVISORIES)
    inventory = inventory or inventory_or_error(fs)
    if (seen := _COLLECTED.get()) is not None:
        seen.append(inventory)
    if isinstance(inventory, NoInventory):
        return warned(TEST_ID, name_of(TEST_ID), f"not checked: {inventory.why}", required)
    release = release_of(fs)
    if release is None or release not in COVERED:
        return warned(TEST_ID, name_of(TEST_ID), f"not checked: the distribution release ({release or 'unknown'}) "
                      f"is not covered by the advisory list ({len(inventory.packages)} packages in "
                      f"{inventory.database})", required)
    try:
        vulnerable, unknown = assess(inventory, release)
    except ValueError as exc:  # a version the package manager itself would refuse
        return warned(TEST_ID, name_of(TEST_ID), f"not checked: {exc}", required)
    if vulnerable:
        return failed(TEST_ID, name_of(TEST_ID), "; ".join(vulnerable + unknown), required)
    if unknown:
        return warned(TEST_ID, name_of(TEST_ID), "; ".join(unknown), required)
    return passed(TEST_ID, name_of(TEST_ID), f"{len(inventory.packages)} packages of {release} "
                  f"({inventory.database}) checked against {len(ADVISORIES)} advisories: none vulnerable", required)
