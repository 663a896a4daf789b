"""Names that become parts of storage paths, and the order of image versions.

Publisher, offer, plan, region, version and disk names end up as folder names on a local disk and as
key segments in S3-compatible stores (provisioning's replicas, packaging's page slots). One rule checks
them for both, so a name accepted by one stage is never refused by a later one.
"""

from __future__ import annotations

import re

# The POSIX portable file name characters ([A-Za-z0-9._-]), which are also within the characters S3
# documents as safe in object keys: no '/' or '\\' (a segment stays one segment on every store and OS),
# no spaces, '%', '?' or '#' (nothing a URL or a key encoder rewrites), nothing outside ASCII (no
# look-alike or normalisation-dependent names). The first character is a letter or digit, so a segment
# is never '.' or '..', never a hidden file and never read as a command-line option; '..' is refused
# anywhere as well. Dots are allowed because image versions (``1.0.0``, ``2024.01.05``) are segments.
# 128 characters keep a whole replica key (six segments) far below S3's 1,024-byte key limit and each
# segment below the 255-byte file-name limit.
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

# One part of a version: digits compare as numbers, anything else as text after every number.
VersionKey = tuple[tuple[int, int | str], ...]


class UnsafeName(ValueError):
    pass


def is_safe_segment(value: str) -> bool:
    return _SEGMENT.fullmatch(value) is not None and ".." not in value


def safe_segment(value: str, what: str) -> str:
    """``value`` unchanged when it can be a storage path segment, else ``UnsafeName`` naming ``what``."""
    if not is_safe_segment(value):
        raise UnsafeName(
            f"{what} {value!r} cannot be used in a storage path: up to 128 letters, digits, '.', '_' and '-', "
            "starting with a letter or digit, without '..'"
        )
    return value


def version_key(version: str) -> VersionKey:
    """Order of image versions: part by part (split at '.', '-', '+'), numeric parts as numbers.

    Semver ``X.Y.Z`` and dated ``YYYY.MM.DD`` both order numerically, so dates order chronologically and
    sort after every ordinary semver below 1000.0.0, and ``2024.01.05`` and ``2024.1.5`` have the same
    key (the offer rules report them as duplicates). Any other string still gets a total order, because
    packaging orders the version names of a document as they are.
    """
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.\-+]", version))
