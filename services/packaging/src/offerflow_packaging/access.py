"""Preview access: issues signed links for a run's grants and admits a viewer only on a live grant.

Signing and expiry are pure (``access_rules``); whether a grant still stands is the store's (revoked when the
subscription leaves the list or the run ends). Both are checked on every preview request, page and images.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from offerflow_packaging import access_rules
from offerflow_packaging.access_rules import Grant
from offerflow_packaging.adapters.grants import GrantStore


@dataclass(frozen=True)
class PreviewAccess:
    key: bytes
    grants: GrantStore
    ttl_seconds: int = access_rules.DEFAULT_TTL_SECONDS
    clock: Callable[[], float] = field(default=time.time)

    async def issue_links(
        self,
        storefront_url: str,
        publisher: str,
        offer: str,
        run_id: str,
        audience: Sequence[str],
        issued_at: datetime,
    ) -> list[str]:
        """One link per subscription whose grant stands (a redelivery gives the same links, signed alike)."""
        expires = access_rules.expiry(issued_at, self.ttl_seconds)
        live = await self.grants.issue(publisher, offer, run_id, audience, expires)
        links = []
        for sub, expires_at in sorted(live.items()):
            grant = Grant(publisher, offer, run_id, sub, expires_at)
            links.append(access_rules.link(storefront_url, access_rules.sign(self.key, grant), grant))
        return links

    async def admit(
        self, publisher: str, offer: str, subscription_id: str | None, token: str | None
    ) -> Grant | None:
        """The grant when the token is genuine, unexpired, for this offer and subscription, and not revoked."""
        grant = access_rules.verify(self.key, token, self.clock())
        if grant is None or not access_rules.admits(grant, publisher, offer, subscription_id):
            return None
        return grant if await self.grants.is_active(grant) else None
