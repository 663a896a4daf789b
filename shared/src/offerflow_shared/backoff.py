"""One backoff loop for a handler's own bounded retries (a mail, a ledger write), with the runtime's policy.

The dispatcher retries a whole handler; this is for the one call inside it that is worth trying again on its
own before the handler gives up. Delays come from :class:`~offerflow_shared.runtime.RetryPolicy`, jitter
included, so services that failed together do not retry in lockstep.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from offerflow_shared.runtime import RetryPolicy

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

log = logging.getLogger("offerflow.backoff")


async def retrying(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    retry_on: Callable[[Exception], bool],
    what: str,
    sleep: Sleep = asyncio.sleep,
    logger: logging.Logger = log,
) -> T:
    """``call()`` until it returns, an error ``retry_on`` rejects, or ``policy.attempts`` run out (then it raises)."""
    for attempt in range(policy.attempts):
        try:
            return await call()
        except Exception as exc:
            if not retry_on(exc) or attempt == policy.attempts - 1:
                raise
            delay = policy.delay(attempt)
            logger.warning("%s failed (attempt %d/%d), retrying in %.1fs: %r", what, attempt + 1, policy.attempts,
                           delay, exc)
            await sleep(delay)
    raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover
