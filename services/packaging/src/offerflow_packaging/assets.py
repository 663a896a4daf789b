"""Copying the offer's logos and screenshots into the page store, so pages never hot-link a publisher's server.

Each artifact is read through the ``ArtifactSource`` port, must be a PNG or JPEG (checked by its magic
bytes, not its name), and is stored content-addressed as ``assets/<sha256[:16]>.<png|jpg>``. The listing
keeps those relative paths; the template turns them into storefront URLs per slot.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from offerflow_packaging import rules
from offerflow_packaging.adapters.artifacts import ArtifactError, ArtifactSource, redact
from offerflow_shared.offer import MARKETPLACE, marketplace

LOGOS = ("small", "medium", "large", "wide", "hero")
MAX_SCREENSHOTS = 5
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpg"))


@dataclass
class Assets:
    logos: dict[str, str | None] = field(default_factory=dict)  # logo name → "assets/<file>"
    screenshots: list[str] = field(default_factory=list)  # "assets/<file>", in the offer's order
    files: dict[str, bytes] = field(default_factory=dict)  # "assets/<file>" → bytes, for the page store


class AssetProblem(Exception):
    """An artifact cannot be used; ``code``, ``pointer`` (JSON pointer) and the message say which and why."""

    def __init__(self, code: str, pointer: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.pointer = pointer
        self.message = message


def image_extension(data: bytes) -> str | None:
    return next((ext for magic, ext in _MAGIC if data.startswith(magic)), None)


def asset_path(data: bytes, extension: str) -> str:
    return f"{rules.ASSETS}/{hashlib.sha256(data).hexdigest()[:16]}.{extension}"


def _screenshot_urls(value: Any) -> list[Any]:
    items = value if isinstance(value, list) else []
    return [item.get("uri") or item.get("url") if isinstance(item, dict) else item for item in items]


async def collect(definition: dict[str, Any], source: ArtifactSource, publisher: str | None = None) -> Assets:
    """Fetch every logo and the first screenshots; AssetProblem for the first one that cannot be used.
    ``publisher`` (the run's) decides which folder a development ``file://`` URL may name."""
    assets = Assets()
    seen: dict[str, str] = {}  # URL → stored path: a URL used twice is fetched once

    async def store(url: Any, name: str, pointer: str) -> str | None:
        if url is None or (isinstance(url, str) and not url.strip()):
            return None  # absent: validation decides whether it was required
        if not isinstance(url, str):
            raise AssetProblem("artifact-unavailable", pointer, f"The offer's {name} is not a URL.")
        url = url.strip()
        if url in seen:
            return seen[url]
        try:
            data = await source.fetch(url, publisher)
        except ArtifactError as exc:
            raise AssetProblem(
                "artifact-unavailable", pointer,
                f"The offer's {name} could not be copied: {exc}. Fix the URL, then Publish again.",
            ) from exc
        extension = image_extension(data)
        if extension is None:
            raise AssetProblem(
                "artifact-not-an-image", pointer,
                f"The offer's {name} ({redact(url)}) is not a PNG or JPEG image; upload one, then Publish again.",
            )
        path = seen[url] = asset_path(data, extension)
        assets.files[path] = data
        return path

    for logo in LOGOS:
        key = f"{logo}Logo"
        assets.logos[logo] = await store(marketplace(definition, key), key, f"/offer/{MARKETPLACE}{key}")
    for i, url in enumerate(_screenshot_urls(marketplace(definition, "screenshots"))[:MAX_SCREENSHOTS]):
        path = await store(url, f"screenshot {i + 1}", f"/offer/{MARKETPLACE}screenshots/{i}")
        if path is not None:
            assets.screenshots.append(path)
    return assets
