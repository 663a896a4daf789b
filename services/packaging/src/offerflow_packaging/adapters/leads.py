"""Lead registration. Sending a test lead to a CRM is a later issue; only "none configured" exists now.

No adapter here pretends to send: an offer that names a destination gets a warning saying no test
lead was sent, never a silent success.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from offerflow_shared.offer import marketplace

LeadStatus = Literal["not-configured", "unsupported", "sent"]


@dataclass(frozen=True)
class LeadCheck:
    status: LeadStatus
    message: str


class LeadDestination(Protocol):
    async def send_test_lead(self, publisher: str, offer: str, definition: dict[str, Any]) -> LeadCheck: ...


class NoLeadDestination:
    """The only implementation for now: reports what the offer asked for, sends nothing."""

    async def send_test_lead(self, publisher: str, offer: str, definition: dict[str, Any]) -> LeadCheck:
        wanted = marketplace(definition, "leadDestination") or definition.get("leadDestination")
        if not wanted or (isinstance(wanted, str) and wanted.lower() == "none"):
            return LeadCheck(
                "not-configured", "Lead generation: no lead destination configured, nothing to register."
            )
        return LeadCheck(
            "unsupported",
            f"Lead generation: the offer names lead destination {str(wanted)[:40]!r}, but sending leads is "
            "not available yet, so no test lead was sent and no lead will be delivered.",
        )
