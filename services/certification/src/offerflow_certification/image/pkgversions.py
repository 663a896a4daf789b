"""Package version ordering as the package managers themselves define it.

A fixed version in an advisory ("2.13-38+deb7u7", "1:9.2p1-2+deb12u3", "2.17-55.el7_0.5") is only meaningful
under its distribution's ordering: plain numeric comparison gets "1.0.1e-2+deb7u5" and "2.4~rc1" wrong.
`dpkg_compare` follows dpkg's `verrevcmp` (deb-version(7)), `rpm_compare` rpm's `rpmvercmp` and EVR comparison;
both are tested against `dpkg --compare-versions` and rpm's own `rpm.vercmp`. `compare_to_fix` is the comparison
test 50 makes: an installed version against an advisory's fixed one, which may be written without its epoch.
"""

from __future__ import annotations

import re
from typing import Literal

Format = Literal["dpkg", "rpm"]


def _dpkg_order(c: str) -> int:
    # deb-version(7): "~" sorts before everything, even the end of the string; letters before non-letters.
    if c == "~":
        return -1
    if c.isdigit():
        return 0
    if c.isalpha():
        return ord(c)
    return ord(c) + 256


def _verrevcmp(a: str, b: str) -> int:
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _dpkg_order(a[i]) if i < len(a) else 0
            bc = _dpkg_order(b[j]) if j < len(b) else 0
            if ac != bc:
                return ac - bc
            i, j = i + 1, j + 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i, j = i + 1, j + 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


def split_dpkg(version: str) -> tuple[int, str, str]:
    """(epoch, upstream, revision); a missing epoch is 0 and a missing revision is empty."""
    epoch, _, rest = version.strip().partition(":") if ":" in version else ("0", "", version.strip())
    upstream, dash, revision = rest.rpartition("-")
    if not dash:
        upstream, revision = rest, ""
    if not epoch.isdigit():
        raise ValueError(f"bad epoch in version {version!r}")
    return int(epoch), upstream, revision


def dpkg_compare(a: str, b: str) -> int:
    """<0, 0 or >0 as a sorts before, with or after b (the sign of `dpkg --compare-versions`)."""
    ea, ua, ra = split_dpkg(a)
    eb, ub, rb = split_dpkg(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _sign(_verrevcmp(ua, ub)) or _sign(_verrevcmp(ra, rb))


_RPM_SEGMENT = re.compile(r"(~|\^|\d+|[A-Za-z]+)")


def rpmvercmp(a: str, b: str) -> int:
    """rpm's rpmvercmp: alphanumeric segments; digits beat letters; "~" sorts first, "^" after the end."""
    if a == b:
        return 0
    sa, sb = _RPM_SEGMENT.findall(a), _RPM_SEGMENT.findall(b)
    while sa or sb:
        x = sa[0] if sa else None
        y = sb[0] if sb else None
        if x == "~" or y == "~":
            if x != "~":
                return 1
            if y != "~":
                return -1
        elif x == "^" or y == "^":
            if x is None:
                return -1
            if y is None:
                return 1
            if x != "^":
                return 1
            if y != "^":
                return -1
        elif x is None or y is None:
            return -1 if x is None else 1
        elif x.isdigit() != y.isdigit():
            return 1 if x.isdigit() else -1
        elif x.isdigit():
            c = _sign(int(x) - int(y))
            if c:
                return c
        elif x != y:
            return -1 if x < y else 1
        sa, sb = sa[1:], sb[1:]
    return 0


def split_evr(evr: str) -> tuple[int, str, str]:
    epoch, _, rest = evr.strip().partition(":") if ":" in evr else ("0", "", evr.strip())
    version, _, release = rest.rpartition("-") if "-" in rest else (rest, "", "")
    if not epoch.isdigit():
        raise ValueError(f"bad epoch in version {evr!r}")
    return int(epoch), version, release


def rpm_compare(a: str, b: str) -> int:
    """EVR comparison as `rpm.vercmp`: epoch (missing: 0), then version, then release (missing sorts first)."""
    ea, va, ra = split_evr(a)
    eb, vb, rb = split_evr(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return rpmvercmp(va, vb) or rpmvercmp(ra, rb)


def compare(fmt: Format, a: str, b: str) -> int:
    return dpkg_compare(a, b) if fmt == "dpkg" else rpm_compare(a, b)


def compare_to_fix(fmt: Format, installed: str, fixed: str) -> int:
    """<0 when `installed` is older than an advisory's first `fixed` version, else 0 or >0.

    Both package managers compare the epoch first, but advisories often print versions without it (Red Hat's
    errata never show one) and whether a package carries one can differ between releases. A fixed version
    written without an epoch is therefore compared under the installed package's own epoch, so the comparison
    rests on version and release alone; one written with an epoch ("1:9.2p1-2+deb12u3") is compared as is.
    """
    split = split_dpkg if fmt == "dpkg" else split_evr
    installed_epoch = split(installed)[0]
    if ":" not in fixed and installed_epoch:  # neither grammar allows ":" in a version without an epoch
        fixed = f"{installed_epoch}:{fixed.strip()}"
    return compare(fmt, installed, fixed)


def _sign(n: int) -> int:
    return (n > 0) - (n < 0)
