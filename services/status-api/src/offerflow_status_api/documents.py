"""What the API checks on an offer document: formats on write, fields frozen once live, secrets; and when
the offer last changed.

A seam over the contract package's pure offer rules, so the routes read as the rules they apply.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from offerflow_contract.events import Reason
from offerflow_shared import offer_rules


def details(reasons: list[Reason], prefix: str = "") -> list[dict[str, Any]]:
    return [{"code": r.code, "target": prefix + (r.field or ""), "field": prefix + (r.field or ""),
             "message": r.message, "level": r.level} for r in reasons]


def format_problems(document: dict[str, Any]) -> list[Reason]:
    return [r for r in offer_rules.format_problems(document) if r.level == "error"]


def frozen_field_problems(live: dict[str, Any] | None, new: dict[str, Any]) -> list[Reason]:
    return [] if live is None else offer_rules.immutable_problems(live, new)


def publish_problems(definition: dict[str, Any]) -> list[Reason]:
    return offer_rules.publish_problems(definition, now=datetime.now(UTC))


def for_response(definition: dict[str, Any]) -> dict[str, Any]:
    """Secrets are write-only: they never leave the server."""
    masked: dict[str, Any] = offer_rules.mask_secrets(definition)
    return masked


def keep_stored_secrets(new: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
    merged: dict[str, Any] = new if stored is None else offer_rules.merge_secrets(new, stored)
    return merged


def iso(at: datetime | None) -> str | None:
    """ISO-8601 in UTC, the one time format of the offer documents and the list."""
    return at.astimezone(UTC).isoformat() if at is not None else None


def changed_time(view: dict[str, Any] | None, written_at: datetime | None = None) -> str | None:
    """``changedTime`` of an offer: the time of its latest event (a save, a publish, any step's progress) as the
    read model holds it, so that the list and every document of the offer say the same.

    ``written_at`` is a write this request just made (the read model shows it a moment later): the answer to
    that write already says it, never an older time.
    """
    times = [t for t in ((view or {}).get("changed_time"), written_at) if t is not None]
    return iso(max(times)) if times else None
