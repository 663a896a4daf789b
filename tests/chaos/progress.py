"""The longest time any offer made no progress during a chaos run, read from the event archive afterwards.

Progress is any event of the offer's publish run that a stage or the status-api wrote (progress reports
included): a crash that leaves a step hanging until another instance or broker takes over shows as a gap
between two of them. Three kinds of event are not progress: mails (``notification.*``) go out beside the
pipeline, and the step supervisor's ``offer.step_overdue`` / ``offer.step_timed_out`` say that nothing
happened. The wait at sign-off (until the publisher's Go live) is the publisher's time, not the system's.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

NOT_PROGRESS = ("offer.step_overdue", "offer.step_timed_out")
SIGN_OFF_ENDS = "offer.golive_requested"  # the gap that ends here waited for the publisher


@dataclass(frozen=True)
class Stall:
    offer_id: str
    seconds: float
    after: str  # the event before the gap
    before: str  # the event that ended it

    def __str__(self) -> str:
        return f"{self.seconds:.0f}s ({self.offer_id}: {self.after} -> {self.before})"


def longest_stall(events: Iterable[tuple[str, str, datetime]]) -> Stall | None:
    """The longest gap between two consecutive progress events of one offer; ``events`` are (offer, event type,
    occurred at) of the offers' publish runs, in any order. None when no offer has two progress events."""
    by_offer: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for offer, event_type, at in events:
        if not event_type.startswith("notification.") and event_type not in NOT_PROGRESS:
            by_offer[offer].append((at, event_type))
    worst: Stall | None = None
    for offer, seq in by_offer.items():
        seq.sort()
        for (t0, e0), (t1, e1) in itertools.pairwise(seq):
            gap = (t1 - t0).total_seconds()
            if e1 != SIGN_OFF_ENDS and (worst is None or gap > worst.seconds):
                worst = Stall(offer, gap, e0, e1)
    return worst


async def archived_events(dsn: str, publisher: str, offer_ids: list[str]) -> list[tuple[str, str, datetime]]:
    """(offer, event type, occurred at) of every event of the offers' runs (the run that archived a publish)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """SELECT offer_id, event_type, occurred_at FROM event_archive
               WHERE publisher_id = $1 AND offer_id = ANY($2::text[]) AND run_id IS NOT NULL""",
            publisher, offer_ids)
    finally:
        await conn.close()
    return [(r["offer_id"], r["event_type"], r["occurred_at"]) for r in rows]
