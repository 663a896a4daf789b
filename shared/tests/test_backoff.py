"""The handlers' own retry loop: the runtime's jittered policy, bounded, only for errors worth retrying."""

from __future__ import annotations

import pytest

from offerflow_shared.backoff import retrying
from offerflow_shared.runtime import RetryPolicy


class Flaky:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures, self.calls = failures, 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "done"


async def test_retries_with_the_policy_delays_until_it_succeeds() -> None:
    sleeps: list[float] = []

    async def sleep(delay: float) -> None:
        sleeps.append(delay)

    call = Flaky([ConnectionError("a"), ConnectionError("b")])
    policy = RetryPolicy(attempts=4, first_delay=1.0, max_delay=1.5, jitter=0.0)
    assert await retrying(call, policy, retry_on=lambda e: True, what="x", sleep=sleep) == "done"
    assert call.calls == 3 and sleeps == [1.0, 1.5]


async def test_jitter_stays_within_the_policy_bounds() -> None:
    sleeps: list[float] = []

    async def sleep(delay: float) -> None:
        sleeps.append(delay)

    policy = RetryPolicy(attempts=3, first_delay=10.0, max_delay=100.0, jitter=0.2)
    await retrying(Flaky([OSError(), OSError()]), policy, retry_on=lambda e: True, what="x", sleep=sleep)
    assert 8.0 <= sleeps[0] <= 12.0 and 16.0 <= sleeps[1] <= 24.0


async def test_an_error_not_worth_retrying_or_the_last_attempt_raises() -> None:
    async def sleep(delay: float) -> None:
        pass

    once = Flaky([ValueError("bad"), ValueError("bad")])
    with pytest.raises(ValueError):
        await retrying(once, RetryPolicy(attempts=5), retry_on=lambda e: isinstance(e, OSError), what="x", sleep=sleep)
    assert once.calls == 1
    always = Flaky([OSError()] * 3)
    with pytest.raises(OSError):
        await retrying(always, RetryPolicy(attempts=3), retry_on=lambda e: True, what="x", sleep=sleep)
    assert always.calls == 3
