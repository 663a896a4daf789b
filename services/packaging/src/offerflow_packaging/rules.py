"""Pure decisions of packaging: names, links, audience membership and version order. No I/O."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Any

from offerflow_shared.names import UnsafeName, is_safe_segment, safe_segment, version_key

PREVIEW = "preview"
PRODUCTION = "production"
PAGE = "index.html"
LISTING = "listing.json"
AUDIENCE = "audience.json"
# The preview slot also keeps the banner-less render, so going live publishes exactly what was previewed.
LIVE_PAGE = "live.html"
# Copied artifacts live beside the pages as ``assets/<sha256[:16]>.<png|jpg>``: content-addressed, so the
# same bytes always get the same name and rewriting a slot on redelivery changes nothing.
ASSETS = "assets"
_ASSET_FILE = re.compile(r"^[0-9a-f]{16}\.(png|jpg)$")
ASSET_TYPES = {"png": "image/png", "jpg": "image/jpeg"}


def _slug_part(value: str, what: str) -> str:
    # The slug joins the two ids with '.', so an id holding one would make two offers share an address.
    if "." in safe_segment(value, what):
        raise UnsafeName(f"{what} {value!r} cannot be used in a page address: it contains '.'")
    return value


def slug(publisher: str, offer: str) -> str:
    """``publisher.offer``: the page address of an offer; ``UnsafeName`` if an id cannot be part of it."""
    return f"{_slug_part(publisher, 'publisher id')}.{_slug_part(offer, 'offer id')}"


def parse_slug(value: str) -> tuple[str, str] | None:
    """``publisher.offer`` → ids, or None for anything that is not a well-formed slug."""
    publisher, dot, offer = value.partition(".")
    if not dot or "." in offer or not is_safe_segment(publisher) or not is_safe_segment(offer):
        return None
    return publisher, offer


def asset_type(file: str) -> str | None:
    """The content type of a well-formed asset file name (``<16 hex>.png|jpg``), or None for anything else."""
    match = _ASSET_FILE.fullmatch(file)
    return ASSET_TYPES[match.group(1)] if match else None


def asset_file(path: str) -> str | None:
    """``assets/<file>`` → ``<file>`` when well formed, else None."""
    folder, slash, file = path.partition("/")
    return file if slash and folder == ASSETS and asset_type(file) else None


def normalise_subscription(value: Any) -> str | None:
    """A subscription GUID in its canonical lowercase form, or None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        return None


def normalise_audience(values: Any) -> list[str]:
    if not isinstance(values, list):
        return []
    found = (normalise_subscription(v) for v in values)
    return sorted({s for s in found if s is not None})


def in_audience(audience: Iterable[str], subscription_id: str | None) -> bool:
    wanted = normalise_subscription(subscription_id)
    return wanted is not None and wanted in {a.lower() for a in audience}


def live_link(storefront_url: str, publisher: str, offer: str) -> str:
    return f"{storefront_url}/apps/{slug(publisher, offer)}"


def highest_version(versions: Iterable[str]) -> str | None:
    ordered = sorted(versions, key=version_key)
    return ordered[-1] if ordered else None


def live_version(preview_version: int) -> int:
    """Going live makes a new published version: the previewed one plus one (the API's version counter)."""
    return preview_version + 1
