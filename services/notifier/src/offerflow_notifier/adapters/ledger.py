"""Port for the sent-mail ledger (one row per cause event and recipient), with in-memory fakes.

States: ``sending`` (committed before the SMTP call) → ``sent`` (the server accepted it) →
``announced`` (NotificationSent emitted). ``rejected`` ends a mail the server refused for good.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class MailStatus(StrEnum):
    SENDING = "sending"
    SENT = "sent"
    ANNOUNCED = "announced"
    REJECTED = "rejected"


class Claim(StrEnum):
    """What a delivery attempt must do for one (cause event, recipient)."""

    SEND = "send"  # first time: send, record, announce
    RESEND = "resend"  # a previous attempt died between recording 'sending' and 'sent': send again
    ANNOUNCE = "announce"  # the mail went out but NotificationSent may not have: only emit it
    DONE = "done"  # announced or rejected: nothing left to do


@dataclass(frozen=True)
class MailRecord:
    cause_event_id: str
    recipient: str  # normalised (lower case), the ledger key together with cause_event_id
    cause_event_type: str
    template: str
    subject: str
    message_id: str
    offer_id: str
    run_id: str | None = None


class Ledger(Protocol):
    async def claim(self, record: MailRecord) -> Claim:
        """Record ``record`` as 'sending' (committed before returning) unless it is already further on."""
        ...

    async def mark(self, record: MailRecord, status: MailStatus, error: str | None = None) -> None:
        ...


_CLAIMS = {
    MailStatus.SENDING: Claim.RESEND,
    MailStatus.SENT: Claim.ANNOUNCE,
    MailStatus.ANNOUNCED: Claim.DONE,
    MailStatus.REJECTED: Claim.DONE,
}


def claim_for(status: MailStatus | None) -> Claim:
    return Claim.SEND if status is None else _CLAIMS[status]


@dataclass
class MemoryLedger:
    rows: dict[tuple[str, str], MailStatus] = field(default_factory=dict)
    attempts: dict[tuple[str, str], int] = field(default_factory=dict)
    errors: dict[tuple[str, str], str] = field(default_factory=dict)

    async def claim(self, record: MailRecord) -> Claim:
        key = (record.cause_event_id, record.recipient)
        result = claim_for(self.rows.get(key))
        if result in (Claim.SEND, Claim.RESEND):
            self.rows[key] = MailStatus.SENDING
            self.attempts[key] = self.attempts.get(key, 0) + 1
        return result

    async def mark(self, record: MailRecord, status: MailStatus, error: str | None = None) -> None:
        key = (record.cause_event_id, record.recipient)
        self.rows[key] = status
        if error is not None:
            self.errors[key] = error
