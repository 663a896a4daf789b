"""Pure decisions: every rule of the offer (``offer_rules.publish_problems``) plus artifact pixel sizes.

Decoding an image from bytes already read is pure; reading them is the adapters' job.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from PIL import Image, UnidentifiedImageError

from offerflow_contract.events import Reason
from offerflow_shared.offer import MARKETPLACE as M
from offerflow_shared.offer import disks
from offerflow_shared.offer_rules import ptr, publish_problems, screenshot_url
from offerflow_shared.offer_types import is_url
from offerflow_validation import expiry

# key → (width, height); the hero logo is optional, the others are required (a publish rule).
LOGOS: dict[str, tuple[int, int]] = {
    "smallLogo": (40, 40), "mediumLogo": (90, 90), "largeLogo": (115, 115), "wideLogo": (255, 115),
    "heroLogo": (815, 290),
}
SCREENSHOT = (533, 324)
MAX_SCREENSHOTS = 5
DEFAULT_MIN_URL_VALIDITY = timedelta(hours=24)


@dataclass(frozen=True)
class Artifact:
    field: str  # JSON pointer of the URL in the definition
    url: str
    size: tuple[int, int]
    what: str  # "logo" or "screenshot"
    label: str


def check(definition: dict[str, Any], *, now: datetime,
          min_url_validity: timedelta = DEFAULT_MIN_URL_VALIDITY) -> list[Reason]:
    """Every problem that needs nothing but the document, signed disk URLs' remaining validity included."""
    problems = publish_problems(definition, now=now)
    # A SAS whose expiry the offer rules already refused (3 weeks, the reference's rule) is not reported twice.
    said = {p.field for p in problems if p.code.startswith("sas_expiry") and p.field}
    return problems + expiry.validity_problems(list(disks(definition)), now=now, min_validity=min_url_validity,
                                               already=said)


def artifacts(definition: dict[str, Any]) -> list[Artifact]:
    """The logos and screenshots to fetch and measure (malformed URLs are already format problems)."""
    offer = definition.get("offer")
    offer = offer if isinstance(offer, dict) else {}
    found: list[Artifact] = []
    for key, size in LOGOS.items():
        url = offer.get(M + key)
        if isinstance(url, str) and _fetchable(url):
            found.append(Artifact(ptr("offer", M + key), url, size, "logo", key))
    shots = offer.get(M + "screenshots")
    for i, item in enumerate(shots[:MAX_SCREENSHOTS] if isinstance(shots, list) else []):
        url = screenshot_url(item)
        if url is not None and _fetchable(url):
            found.append(Artifact(ptr("offer", M + "screenshots", i), url, SCREENSHOT, "screenshot",
                                  f"screenshot {i + 1}"))
    return found


def _fetchable(url: str) -> bool:
    return is_url(url, ("https", "http", "file"))


def pixel_problems(artifact: Artifact, data: bytes) -> list[Reason]:
    """Decode the image for real and compare its size with the exact size required."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                size = image.size
                if size != artifact.size:
                    return [_wrong_size(artifact, size)]
                image.load()  # only now: a wrong-size (possibly huge) image is never decompressed
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        return [Reason(code="artifact_unreadable", field=artifact.field, level="error",
                       message=f"The {artifact.label} is not a readable image ({type(exc).__name__}); "
                               "upload a PNG or JPEG.")]
    return []


def _wrong_size(artifact: Artifact, size: tuple[int, int]) -> Reason:
    w, h = artifact.size
    return Reason(code=f"{artifact.what}_wrong_size", field=artifact.field, level="error",
                  message=f"The {artifact.label} is {size[0]}x{size[1]} pixels; it must be exactly {w}x{h}.")


def unreachable(artifact: Artifact, why: str) -> Reason:
    return Reason(code="artifact_unreachable", field=artifact.field, level="error",
                  message=f"The {artifact.label} cannot be read: {why}.")


def summary(problems: list[Reason]) -> str:
    n = len(problems)
    return f"{n} problem{'s' if n != 1 else ''} to fix before publishing: " + "; ".join(
        p.message.rstrip(".") for p in problems[:5]) + ("; …" if n > 5 else ".")
