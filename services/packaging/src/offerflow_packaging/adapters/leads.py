"""Lead registration: at packaging the offer's lead destination receives one generated test lead.

``LeadDestination`` is what the handler calls; ``LeadRouter`` implements it by reading the offer's
``leadDestination`` and ``leadConfiguration`` and handing the lead to the ``LeadSender`` registered for
that kind, so a new CRM is one more sender. A destination we cannot deliver to gets a warning saying no
test lead was sent, never a silent success. Messages never carry credentials or query strings.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from offerflow_packaging import lead_rules
from offerflow_packaging.lead_rules import Lead, LeadConfigError

log = logging.getLogger("offerflow.packaging.leads")

LeadStatus = Literal["not-configured", "unsupported", "sent", "failed"]


@dataclass(frozen=True)
class LeadCheck:
    status: LeadStatus
    message: str


class LeadRefused(Exception):
    """The destination could not take the lead; the message says what the publisher must fix."""


class LeadSender(Protocol):
    async def send(self, lead: Lead, config: Mapping[str, Any]) -> str:
        """Deliver the lead; return where it went (redacted) or raise LeadRefused / LeadConfigError."""
        ...


class LeadDestination(Protocol):
    async def send_test_lead(
        self, run_id: str, publisher: str, offer: str, definition: dict[str, Any]
    ) -> LeadCheck: ...


def _none_configured() -> LeadCheck:
    return LeadCheck("not-configured", "Lead generation: no lead destination configured, nothing to register.")


@dataclass
class LeadRouter:
    senders: Mapping[str, LeadSender]
    # The overall bound of one delivery (DNS, connect, TLS, a server that drips its answer byte by byte).
    timeout: float = 10.0
    labels: Mapping[str, str] = field(
        default_factory=lambda: {
            lead_rules.HTTPS: "HTTPS endpoint",
            lead_rules.SALESFORCE: "Salesforce",
            lead_rules.TABLE: "table",
            lead_rules.BLOB: "Azure Blob",
            lead_rules.DYNAMICS: "Dynamics 365",
            lead_rules.MARKETO: "Marketo",
        }
    )

    async def send_test_lead(
        self, run_id: str, publisher: str, offer: str, definition: dict[str, Any]
    ) -> LeadCheck:
        kind = lead_rules.destination(definition)
        if kind is None:
            return _none_configured()
        sender = self.senders.get(kind)
        if sender is None:
            return LeadCheck(
                "unsupported",
                f"Lead generation: the offer names lead destination {kind!r}, which Offerflow cannot deliver "
                f"to (supported: {', '.join(sorted(self.senders))}), so no test lead was sent and no lead "
                "will be delivered.",
            )
        label = self.labels.get(kind, kind)
        lead = lead_rules.make_test_lead(run_id, publisher, offer, definition)
        config = lead_rules.configuration(definition, kind)
        try:
            async with asyncio.timeout(self.timeout):
                where = await sender.send(lead, config)
        except TimeoutError:
            return LeadCheck(
                "failed",
                f"Lead generation: the {label} destination did not accept the test lead within "
                f"{self.timeout:g} s. Check that the lead configuration points at a server that is up and "
                "answers promptly, then Publish again.",
            )
        except (LeadRefused, LeadConfigError) as exc:
            return LeadCheck("failed", f"Lead generation: {exc}")
        log.info("test lead %s sent to the %s destination %s", lead.lead_id, label, where)
        return LeadCheck("sent", f"Lead generation: test lead sent to the {label} destination {where}.")


class NoLeadDestination:
    """Sends nothing: reports "not configured" or "unsupported", for tests and setups without lead senders."""

    async def send_test_lead(
        self, run_id: str, publisher: str, offer: str, definition: dict[str, Any]
    ) -> LeadCheck:
        return await LeadRouter({}).send_test_lead(run_id, publisher, offer, definition)


class MemoryLeadSender:
    """Keeps what it was given; ``refuse`` makes it fail like a destination that says no."""

    def __init__(self, refuse: str | None = None) -> None:
        self.sent: list[tuple[Lead, dict[str, Any]]] = []
        self.refuse = refuse

    async def send(self, lead: Lead, config: Mapping[str, Any]) -> str:
        if self.refuse:
            raise LeadRefused(self.refuse)
        self.sent.append((lead, dict(config)))
        return "memory://leads"
