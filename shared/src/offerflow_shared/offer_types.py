"""Formats of the offer document's fields: the checks (``is_url``, ``is_image_version``, …) and the
annotated types the models in ``offer_model`` are built from.

Each type fails with a stable error code (``invalid_id``, ``invalid_url``, …) that the format rules turn
into a reason on the field. Image versions are semver ``X.Y.Z`` (no leading zeros) or dates
``YYYY.MM.DD`` (leading zeros, a real calendar date); ``offerflow_shared.names.version_key`` orders them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

OFFER_ID_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?")
PLAN_ID_RE = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,48}[a-z0-9_])?")  # the UI allows underscores in SKU ids
_SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")
_DATED = re.compile(r"(\d{4})\.(\d{2})\.(\d{2})")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_EMAIL = re.compile(r"[^@\s\"<>]+@[^@\s\"<>]+\.[^@\s\"<>.]+")
_VM_SIZE = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
_REGION = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_CORE_KEY = re.compile(r"sharedcore|[1-9]\d*core")


def is_offer_id(value: str) -> bool:
    return OFFER_ID_RE.fullmatch(value) is not None


def is_url(value: str, schemes: tuple[str, ...] = ("https", "http")) -> bool:
    """Absolute, no whitespace, a host for http(s) and a path for file."""
    if any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError:
        return False
    if parts.scheme.lower() not in schemes:
        return False
    return bool(parts.path) if parts.scheme.lower() == "file" else bool(parts.hostname)


def is_guid(value: str) -> bool:
    return _GUID.fullmatch(value) is not None


def is_image_version(value: str) -> bool:
    if _SEMVER.fullmatch(value):
        return True
    m = _DATED.fullmatch(value)
    if not m:
        return False
    try:
        date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return False
    return True


def rule(code: str, message: str, ok: Callable[[Any], bool]) -> AfterValidator:
    def check(value: Any) -> Any:
        if not ok(value):
            raise PydanticCustomError(code, message)
        return value

    return AfterValidator(check)


def _blank_or(ok: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda v: v == "" or ok(v)  # the original API returns "" for unset optional text


OfferId = Annotated[str, rule("invalid_id", "Offer ID: at most 50 lowercase letters, digits and '-', "
                               "not ending with '-'.", is_offer_id)]
PlanId = Annotated[str, rule("invalid_id", "Plan ID: at most 50 lowercase letters, digits, '-' and '_', "
                              "not ending with '-'.", lambda v: PLAN_ID_RE.fullmatch(v) is not None)]
Url = Annotated[str, rule("invalid_url", "Must be an absolute http(s) URL.", _blank_or(is_url))]
ArtifactUrl = Annotated[str, rule("invalid_url", "Must be an absolute https, http or file URL.",
                                   _blank_or(lambda v: is_url(v, ("https", "http", "file"))))]
Email = Annotated[str, rule("invalid_email", "Must be an email address.",
                             _blank_or(lambda v: _EMAIL.fullmatch(v) is not None))]
Guid = Annotated[str, rule("invalid_guid", "Must be a GUID such as 6d8f2e3a-1b2c-4d5e-8f90-123456789abc.",
                            is_guid)]
ImageVersion = Annotated[str, rule("invalid_version", "Image versions are X.Y.Z (semver, no leading zeros) "
                                    "or a date YYYY.MM.DD.", is_image_version)]
VmSize = Annotated[str, rule("invalid_vm_size", "VM sizes look like 'd2s-standard-v3'.",
                              lambda v: _VM_SIZE.fullmatch(v) is not None)]
Region = Annotated[str, rule("invalid_region", "Regions are ISO 3166 alpha-2 codes such as 'US'.",
                              lambda v: _REGION.fullmatch(v) is not None)]
Currency = Annotated[str, rule("invalid_currency", "Currency is an ISO 4217 code such as 'USD'.",
                                lambda v: _CURRENCY.fullmatch(v) is not None)]
Price = Annotated[float, Field(ge=0)]


Text50 = Annotated[str, StringConstraints(max_length=50)]
Text100 = Annotated[str, StringConstraints(max_length=100)]
Text256 = Annotated[str, StringConstraints(max_length=256)]
Text3000 = Annotated[str, StringConstraints(max_length=3000)]


def _core_keys(value: dict[str, float]) -> dict[str, float]:
    bad = [k for k in value if not _CORE_KEY.fullmatch(k)]
    if bad:
        raise PydanticCustomError("invalid_price_key", "Per-size prices are keyed 'sharedcore', '1core', '2core', …")
    return value


CorePrices = Annotated[dict[str, Price], AfterValidator(_core_keys)]
