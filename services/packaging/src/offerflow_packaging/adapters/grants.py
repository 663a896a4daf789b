"""Port for preview grants: which subscription may see which run's preview, and what revoked it.

A run is *open* from its Publish until it ends (went live, canceled, Go live failed, or superseded by the
next Publish of the offer); closing a run revokes all its grants at once. While a run is open, each saved
draft's preview audience is remembered on the run: a grant whose subscription is missing from it is revoked
(and one issued later for it is born revoked). Revocations are final: a subscription put back on the list
does not revive a link that was already withdrawn. Every method is idempotent (at-least-once delivery).

``MemoryGrantStore`` is the fake; ``adapters/pg_grants.py`` keeps the same rules in PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from offerflow_packaging.access_rules import Grant

SUPERSEDED = "superseded by a new publish"
AUDIENCE_CHANGED = "subscription removed from the preview audience"


class GrantStore(Protocol):
    async def start_run(self, publisher: str, offer: str, run_id: str) -> None:
        """A publish began this run: every other open run of the offer ends (unless this one already ended)."""
        ...

    async def run_closed(self, run_id: str) -> bool: ...

    async def issue(
        self, publisher: str, offer: str, run_id: str, subscriptions: Sequence[str], expires_at: int
    ) -> dict[str, int]:
        """Record grants (an existing one is kept as it is); returns the live ones: subscription → expiry."""
        ...

    async def open_runs(self, publisher: str, offer: str) -> list[str]:
        """The offer's runs whose preview is (or may still become) open."""
        ...

    async def restrict(self, publisher: str, offer: str, audience: Collection[str]) -> list[str]:
        """A draft was saved with this audience: revoke the open runs' grants outside it; newly revoked subs."""
        ...

    async def close_run(self, publisher: str, offer: str, run_id: str | None, reason: str) -> None:
        """The run ended (None: every open run of the offer); all its grants are revoked at once."""
        ...

    async def is_active(self, grant: Grant) -> bool:
        """Issued for exactly this offer, run and subscription, with this expiry, not revoked, run open."""
        ...


@dataclass
class _Run:
    publisher: str
    offer: str
    closed: str | None = None
    audience: frozenset[str] | None = None


@dataclass
class _Grant:
    expires_at: int
    revoked: str | None = None


@dataclass
class MemoryGrantStore:
    runs: dict[str, _Run] = field(default_factory=dict)
    grants: dict[tuple[str, str], _Grant] = field(default_factory=dict)

    def _run(self, publisher: str, offer: str, run_id: str) -> _Run:
        return self.runs.setdefault(run_id, _Run(publisher, offer))

    def _close(self, run_id: str, reason: str) -> None:
        run = self.runs[run_id]
        run.closed = run.closed or reason
        for (rid, _), grant in self.grants.items():
            if rid == run_id and grant.revoked is None:
                grant.revoked = reason

    async def start_run(self, publisher: str, offer: str, run_id: str) -> None:
        if self._run(publisher, offer, run_id).closed is not None:
            return  # a replayed old publish must not end the runs that came after it
        for rid, run in list(self.runs.items()):
            if rid != run_id and (run.publisher, run.offer) == (publisher, offer) and run.closed is None:
                self._close(rid, SUPERSEDED)

    async def run_closed(self, run_id: str) -> bool:
        run = self.runs.get(run_id)
        return run is not None and run.closed is not None

    async def issue(
        self, publisher: str, offer: str, run_id: str, subscriptions: Sequence[str], expires_at: int
    ) -> dict[str, int]:
        run = self._run(publisher, offer, run_id)
        for sub in subscriptions:
            if (run_id, sub) not in self.grants:
                outside = run.audience is not None and sub not in run.audience
                self.grants[(run_id, sub)] = _Grant(expires_at, run.closed or (AUDIENCE_CHANGED if outside else None))
        return {
            sub: g.expires_at
            for (rid, sub), g in sorted(self.grants.items())
            if rid == run_id and sub in subscriptions and g.revoked is None
        }

    async def open_runs(self, publisher: str, offer: str) -> list[str]:
        return sorted(rid for rid, run in self.runs.items()
                      if (run.publisher, run.offer) == (publisher, offer) and run.closed is None)

    async def restrict(self, publisher: str, offer: str, audience: Collection[str]) -> list[str]:
        keep = frozenset(audience)
        revoked: list[str] = []
        for rid, run in self.runs.items():
            if (run.publisher, run.offer) != (publisher, offer) or run.closed is not None:
                continue
            run.audience = keep
            for (grid, sub), grant in sorted(self.grants.items()):
                if grid == rid and grant.revoked is None and sub not in keep:
                    grant.revoked = AUDIENCE_CHANGED
                    revoked.append(sub)
        return revoked

    async def close_run(self, publisher: str, offer: str, run_id: str | None, reason: str) -> None:
        if run_id is not None:
            self._run(publisher, offer, run_id)
        targets = [run_id] if run_id is not None else [
            rid for rid, r in self.runs.items() if (r.publisher, r.offer) == (publisher, offer)
        ]
        for rid in targets:
            self._close(rid, reason)

    async def is_active(self, grant: Grant) -> bool:
        run = self.runs.get(grant.run_id)
        stored = self.grants.get((grant.run_id, grant.subscription))
        return (
            run is not None
            and run.closed is None
            and (run.publisher, run.offer) == (grant.publisher, grant.offer)
            and stored is not None
            and stored.revoked is None
            and stored.expires_at == grant.expires_at
        )
