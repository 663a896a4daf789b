"""Command-side state of one offer: its draft and where its current run stands, as commands and stage
outcomes left it. Written in the same transaction as the events a command emits; never read from the projection.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class RunPhase(StrEnum):
    RUNNING = "running"  # steps 1-4 under way
    SIGNOFF = "signoff"  # the preview is open; Go live or Cancel decides
    GOLIVE = "golive"  # Go live accepted; the offer is being promoted
    ENDED = "ended"  # failed, succeeded or canceled: Publish may start a new run


class SignOff(StrEnum):
    GO_LIVE = "goLive"
    CANCEL = "cancel"


@dataclass(frozen=True)
class OfferState:
    publisher_id: str
    offer_id: str
    offer_type_id: str
    definition: dict[str, Any]
    etag: str
    draft_version: int
    version: int = 1
    run_id: str | None = None
    run_phase: RunPhase | None = None
    run_outcome: str | None = None
    signoff: SignOff | None = None
    signoff_at: datetime | None = None
    run_emails: list[str] = field(default_factory=list)
    run_definition: dict[str, Any] | None = None
    live_definition: dict[str, Any] | None = None

    def replace(self, **changes: Any) -> OfferState:
        return dataclasses.replace(self, **changes)

    def started(self, run_id: str, version: int, emails: list[str]) -> OfferState:
        return self.replace(run_id=run_id, version=version, run_phase=RunPhase.RUNNING, run_outcome=None,
                            signoff=None, signoff_at=None, run_emails=list(emails),
                            run_definition=self.definition)

    def signed_off(self, choice: SignOff, at: datetime) -> OfferState:
        if choice == SignOff.CANCEL:
            return self.replace(signoff=choice, signoff_at=at, run_phase=RunPhase.ENDED, run_outcome="canceled")
        return self.replace(signoff=choice, signoff_at=at, run_phase=RunPhase.GOLIVE)
