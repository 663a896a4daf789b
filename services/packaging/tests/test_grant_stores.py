"""The grant store rules, held by the in-memory fake and by PostgreSQL alike (PostgreSQL skipped without a DSN)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from offerflow_packaging.access_rules import Grant
from offerflow_packaging.adapters.grants import GrantStore, MemoryGrantStore
from offerflow_packaging.adapters.pg_grants import MIGRATIONS, LazyPool, PostgresGrantStore
from offerflow_shared import db

DSN = os.environ.get("OFFERFLOW_DATABASE_DSN")
A, B = "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "7c9e6679-7425-40de-944b-e07fc1f90ae7"
EXP = 1_900_000_000


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
async def reopen(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[], GrantStore]]:
    """Makes a store; for PostgreSQL each call is a new pool, as after a restart, on the same tables."""
    if request.param == "memory":
        store = MemoryGrantStore()
        yield lambda: store
        return
    if not DSN:
        pytest.skip("needs OFFERFLOW_DATABASE_DSN (run under deploy/dev/stack.py)")
    pools: list[Any] = []

    async def open_pool() -> Any:
        # As the service opens it: migrations as the database's owner, the pool as the services' role.
        pool = await db.open_migrated(DSN, "packaging", MIGRATIONS,
                                      migration_dsn=os.environ.get("OFFERFLOW_DATABASE_MIGRATION_DSN"))
        pools.append(pool)
        return pool

    yield lambda: PostgresGrantStore(LazyPool(open_pool))
    for pool in pools:
        await pool.close()


def ids() -> tuple[str, str, str]:
    return "contoso", "offer-" + uuid.uuid4().hex[:12], "run-" + uuid.uuid4().hex


async def test_issue_is_idempotent_and_survives_a_restart(reopen: Callable[[], GrantStore]) -> None:
    publisher, offer, run = ids()
    store = reopen()
    await store.start_run(publisher, offer, run)
    assert await store.issue(publisher, offer, run, [A, B], EXP) == {A: EXP, B: EXP}
    # Redelivered (even with another expiry): the grants stay as first issued, so the links are the same.
    assert await store.issue(publisher, offer, run, [A, B], EXP + 5) == {A: EXP, B: EXP}
    again = reopen()
    assert await again.is_active(Grant(publisher, offer, run, A, EXP))
    assert not await again.is_active(Grant(publisher, offer, run, A, EXP + 5))
    assert not await again.is_active(Grant(publisher, "other", run, A, EXP))
    assert not await again.is_active(Grant(publisher, offer, "run-x", A, EXP))


async def test_restrict_revokes_outside_the_audience_for_good(reopen: Callable[[], GrantStore]) -> None:
    publisher, offer, run = ids()
    store = reopen()
    await store.issue(publisher, offer, run, [A, B], EXP)
    assert await store.restrict(publisher, offer, [A]) == [B]
    assert await store.restrict(publisher, offer, [A]) == []  # redelivered
    assert await store.restrict(publisher, offer, [A, B]) == []  # back on the list: still revoked
    after = reopen()
    assert await after.is_active(Grant(publisher, offer, run, A, EXP))
    assert not await after.is_active(Grant(publisher, offer, run, B, EXP))
    assert await after.issue(publisher, offer, run, [A, B], EXP) == {A: EXP}


async def test_a_grant_issued_after_the_audience_narrowed_is_born_revoked(reopen: Callable[[], GrantStore]) -> None:
    publisher, offer, run = ids()
    store = reopen()
    await store.start_run(publisher, offer, run)
    await store.restrict(publisher, offer, [B])
    assert await store.issue(publisher, offer, run, [A, B], EXP) == {B: EXP}


async def test_closing_and_superseding_runs(reopen: Callable[[], GrantStore]) -> None:
    publisher, offer, first = ids()
    second = "run-" + uuid.uuid4().hex
    store = reopen()
    await store.start_run(publisher, offer, first)
    await store.issue(publisher, offer, first, [A], EXP)
    await store.start_run(publisher, offer, second)
    assert await store.run_closed(first) and not await store.run_closed(second)
    assert not await store.is_active(Grant(publisher, offer, first, A, EXP))
    await store.start_run(publisher, offer, first)  # an old publish replayed: the newer run stays open
    assert not await store.run_closed(second)

    await store.issue(publisher, offer, second, [A, B], EXP)
    await store.close_run(publisher, offer, second, "canceled")
    await store.close_run(publisher, offer, second, "canceled")  # redelivered
    assert not await reopen().is_active(Grant(publisher, offer, second, B, EXP))
    # Issuing for a closed run (a late replay) grants nothing.
    assert await store.issue(publisher, offer, second, [A, B], EXP) == {}
    # Closing a run never seen (its publish went unnoticed) still records the end.
    third = "run-" + uuid.uuid4().hex
    await store.close_run(publisher, offer, third, "went live")
    assert await store.run_closed(third)
    assert await store.issue(publisher, offer, third, [A], EXP) == {}
