from __future__ import annotations

from pydantic import Field

from offerflow_contract.envelope import Event, register


@register
class NotificationSent(Event):
    """A mail went out (exactly once per cause event and recipient, guarded by the notifier's ledger)."""

    event_type = "notification.sent"
    template: str
    recipients: list[str] = Field(min_length=1)
    subject: str
    cause_event_id: str
    cause_event_type: str
