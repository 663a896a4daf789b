"""Open streams per token (an offer's status streams and the publisher's offer streams alike): a bound on how
many one token holds, and closing them when it is revoked.

In one process the revoke route and the streams share this registry, so revoking a token ends its streams at
once. Another API process learns of a revocation by re-checking the token: every stream does so every
``recheck_seconds`` (one indexed lookup), so a revoke anywhere ends every stream within that bound.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from offerflow_status_api.adapters.auth import hash_token


def token_key(token: str) -> str:
    """The registry's key: the token's hash, as the database keeps it (revoke finds streams by it)."""
    return hash_token(token)


class StreamSlot:
    """One open stream of one token; ``release`` frees the slot (idempotent)."""

    def __init__(self, registry: StreamRegistry, key: str) -> None:
        self.registry, self.key = registry, key
        self.revoked = asyncio.Event()

    async def wait_revoked(self, seconds: float) -> bool:
        """Sleeps up to ``seconds``; True as soon as the token is revoked."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.revoked.wait(), seconds)
        return self.revoked.is_set()

    def release(self) -> None:
        self.registry.release(self)


@dataclass(frozen=True)
class StreamLimits:
    max_per_token: int = 5
    recheck_seconds: float = 1.0


class StreamRegistry:
    def __init__(self, limits: StreamLimits | None = None) -> None:
        self.limits = limits or StreamLimits()
        self._open: defaultdict[str, set[StreamSlot]] = defaultdict(set)

    def open(self, key: str) -> StreamSlot | None:
        """A slot for one more stream of the token, or None when it holds the most already."""
        held = self._open[key]
        if len(held) >= self.limits.max_per_token:
            return None
        slot = StreamSlot(self, key)
        held.add(slot)
        return slot

    def release(self, slot: StreamSlot) -> None:
        held = self._open.get(slot.key)
        if held is not None:
            held.discard(slot)
            if not held:
                del self._open[slot.key]

    def revoke(self, key: str) -> int:
        """Ends every open stream of the token in this process; how many there were."""
        held = list(self._open.get(key, ()))
        for slot in held:
            slot.revoked.set()
        return len(held)

    def count(self, key: str) -> int:
        return len(self._open.get(key, ()))


class SlotResponse(StreamingResponse):
    """A streaming response that frees its slot however it ends (finished, client gone, cancelled)."""

    def __init__(self, slot: StreamSlot, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slot.release()
