"""Every rule of the data model at once: what the validation step reports and the editor shows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from offerflow_contract.events import Reason
from offerflow_shared.offer_rules.common import as_dict, as_list, error, ptr, text
from offerflow_shared.offer_rules.formats import definition_format_problems
from offerflow_shared.offer_rules.images import plan_image_problems
from offerflow_shared.offer_rules.leads import lead_problems
from offerflow_shared.offer_rules.required import offer_required, plan_required


def publish_problems(definition: dict[str, Any], *, now: datetime) -> list[Reason]:
    """Every problem of the ``definition`` (pointers into it: ``/offer/…``, ``/plans/0/…``), errors and warnings.

    ``now`` is when the publish was asked for (the event's time, so a redelivery decides the same); a naive
    value is taken as UTC. Logo pixel sizes need I/O and are checked by the validation service.
    """
    if not isinstance(definition, dict):
        return [error("invalid_type", "", "The offer definition must be a JSON object.")]
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    out = definition_format_problems(definition)
    offer = as_dict(definition.get("offer"))
    out += offer_required(offer)
    out += lead_problems(offer)
    plans = as_list(definition.get("plans"))
    if not plans:
        out.append(error("required", "/plans", "At least one plan is required."))
    seen: dict[str, str] = {}
    for i, raw in enumerate(plans):
        plan = as_dict(raw)
        out += _plan(plan, ("plans", i), seen, now=now, generation=False)
        for j, gen in enumerate(as_list(plan.get("diskGenerations"))):
            out += _plan(as_dict(gen), ("plans", i, "diskGenerations", j), seen, now=now, generation=True)
    return _unique(out)


def _plan(plan: dict[str, Any], base: tuple[str | int, ...], seen: dict[str, str], *, now: datetime,
          generation: bool) -> list[Reason]:
    out = plan_required(plan, base, generation=generation)
    plan_id = text(plan.get("planId")).lower()
    if plan_id:
        if plan_id in seen:
            out.append(error("duplicate_plan_id", ptr(*base, "planId"),
                             f"Plan ID {plan_id!r} is already used at {seen[plan_id]}."))
        seen.setdefault(plan_id, ptr(*base))
    return out + plan_image_problems(plan, base, now=now)


def _unique(reasons: list[Reason]) -> list[Reason]:
    """One reason per (field, code): a value can break a format rule and a publish rule the same way."""
    done: set[tuple[str | None, str]] = set()
    out: list[Reason] = []
    for r in reasons:
        if (r.field, r.code) not in done:
            done.add((r.field, r.code))
            out.append(r)
    return out
