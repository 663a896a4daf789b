"""Helpers shared by the offer rules: JSON pointers, reasons, pydantic errors turned into reasons."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from offerflow_contract.events import Reason

# pydantic's error types → our stable codes (clients and the editor switch on these, not on pydantic's).
_CODES = {
    "string_too_long": "too_long",
    "string_too_short": "too_short",
    "too_long": "too_many",
    "too_short": "too_few",
    "literal_error": "invalid_enum",
    "enum": "invalid_enum",
    "greater_than_equal": "out_of_range",
    "less_than_equal": "out_of_range",
    "greater_than": "out_of_range",
    "less_than": "out_of_range",
}


def ptr(*tokens: str | int) -> str:
    """RFC 6901 JSON pointer of the given path."""
    return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in tokens)


def error(code: str, field: str, message: str) -> Reason:
    return Reason(code=code, field=field, message=message, level="error")


def warning(code: str, field: str, message: str) -> Reason:
    return Reason(code=code, field=field, message=message, level="warning")


def short(key: str | int) -> str:
    """``microsoft-azure-marketplace.title`` → ``title``: what a person calls the field."""
    return str(key).rsplit(".", 1)[-1] if isinstance(key, str) and key.startswith("microsoft-") else str(key)


def _code(err: ErrorDetails) -> str:
    kind = err["type"]
    if kind in _CODES:
        return _CODES[kind]
    if kind.endswith("_type") or kind.endswith("_parsing") or kind == "model_attributes_type":
        return "invalid_type"
    return kind if kind.startswith("invalid_") else "invalid_value"


def model_problems(model: type[BaseModel], data: Any, prefix: tuple[str | int, ...] = ()) -> list[Reason]:
    """Every format problem pydantic finds, one reason per bad field, named by its JSON pointer."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        out: list[Reason] = []
        for err in exc.errors(include_url=False):
            loc = [t for t in err["loc"] if t != "[key]"]  # a bad dict key is named by the key itself
            name = next((short(t) for t in reversed(loc) if isinstance(t, str)), "document")
            out.append(error(_code(err), ptr(*prefix, *loc), f"{name}: {err['msg']}"))
        return out
    return []


def text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, list | dict) and len(value) == 0)


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
