"""Per-publisher quotas on the command side (in-memory fakes): offers held and publish runs per hour, decided in the
command's unit of work, refused with nothing recorded."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from offerflow_contract.events import CancelRequested
from offerflow_status_api.commands import (
    Cancel,
    CommandService,
    Publish,
    QuotaExceeded,
    Quotas,
    RunPhase,
    SaveDraft,
)
from offerflow_status_api.commands.memory import MemoryCommandStore
from offerflow_status_api.commands.rules import RUN_WINDOW, offer_quota, run_quota

PUB = "contoso"
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def draft(offer: str, publisher: str = PUB, if_match: str = "*") -> SaveDraft:
    return SaveDraft(publisher_id=publisher, offer_id=offer, offer_type_id="vm", definition={"displayText": offer},
                     if_match=if_match)


def publish(offer: str, key: str | None = None) -> Publish:
    return Publish(publisher_id=PUB, offer_id=offer, notification_emails=["a@b.example"], requested_by=PUB,
                   idempotency_key=key)


def end_run(store: MemoryCommandStore, offer: str) -> None:
    """The run ends (as a failed step would end it), so Publish may start another."""
    state = store.states[(PUB, offer)]
    store.states[(PUB, offer)] = state.replace(run_phase=RunPhase.ENDED, run_outcome="failed")


# --- the pure rules ---------------------------------------------------------------------------------------------


def test_offer_quota_admits_up_to_the_maximum() -> None:
    assert offer_quota(Quotas(max_offers=3), 2) is None
    refusal = offer_quota(Quotas(max_offers=3), 3)
    assert refusal is not None and refusal.code == "OfferQuotaExceeded" and refusal.retry_after is None
    assert "(3)" in refusal.message


def test_run_quota_waits_for_the_oldest_run_that_must_leave_the_hour() -> None:
    q = Quotas(max_runs_per_hour=3)
    starts = [T0 - timedelta(minutes=m) for m in (50, 20, 10)]
    refusal = run_quota(q, starts, T0)
    assert refusal is not None and refusal.code == "RunQuotaExceeded" and refusal.retryable
    assert refusal.retry_after == 10 * 60  # the run 50 min ago leaves the window in 10 min
    # Runs older than the window do not count.
    assert run_quota(q, [T0 - RUN_WINDOW, *starts[1:]], T0) is None
    # With more runs than the quota (a lowered quota), the wait covers enough runs to fit one more.
    refusal = run_quota(Quotas(max_runs_per_hour=2), starts, T0)
    assert refusal is not None and refusal.retry_after == 40 * 60


# --- offers held ------------------------------------------------------------------------------------------------


async def test_a_new_offer_beyond_the_quota_is_refused_and_nothing_is_recorded() -> None:
    store = MemoryCommandStore()
    svc = CommandService(store=store, quotas=Quotas(max_offers=2))
    await svc.save_draft(draft("a"))
    await svc.save_draft(draft("b"))
    outbox = len(store.outbox)
    with pytest.raises(QuotaExceeded) as refused:
        await svc.save_draft(draft("c"))
    assert refused.value.refusal.code == "OfferQuotaExceeded"
    assert (PUB, "c") not in store.states and len(store.outbox) == outbox
    # Updating an offer it holds still works, and another publisher has its own quota.
    saved, created = await svc.save_draft(draft("a"))
    assert not created and saved.draft_version == 2
    _, created = await svc.save_draft(draft("c", publisher="fabrikam"))
    assert created


async def test_concurrent_creates_cannot_both_take_the_last_place() -> None:
    store = MemoryCommandStore()
    svc = CommandService(store=store, quotas=Quotas(max_offers=1))
    results = await asyncio.gather(*(svc.save_draft(draft(f"o{i}")) for i in range(5)), return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, QuotaExceeded) for r in results if isinstance(r, BaseException))
    assert len(store.states) == 1


# --- publish runs per hour --------------------------------------------------------------------------------------


async def test_publish_beyond_the_runs_per_hour_is_429_with_retry_after_and_starts_nothing() -> None:
    store, clock = MemoryCommandStore(), Clock()
    svc = CommandService(store=store, quotas=Quotas(max_runs_per_hour=2), clock=clock)
    for offer in ("a", "b", "c"):
        await svc.save_draft(draft(offer))
    assert (await svc.publish(publish("a"))).status == 202
    clock.now += timedelta(minutes=15)
    assert (await svc.publish(publish("b"))).status == 202
    outbox = len(store.outbox)
    clock.now += timedelta(minutes=5)
    answer = await svc.publish(publish("c"))
    assert answer.status == 429
    assert answer.body is not None and answer.body["error"]["code"] == "RunQuotaExceeded"
    assert answer.headers["Retry-After"] == str(40 * 60)  # the first run leaves the hour in 40 min
    assert len(store.outbox) == outbox and store.states[(PUB, "c")].run_id is None
    # Once the first run is more than an hour old, the publisher may start one more.
    clock.now = T0 + RUN_WINDOW
    assert (await svc.publish(publish("c"))).status == 202


async def test_every_run_of_the_hour_counts_also_the_same_offers_runs() -> None:
    store, clock = MemoryCommandStore(), Clock()
    svc = CommandService(store=store, quotas=Quotas(max_runs_per_hour=2), clock=clock)
    await svc.save_draft(draft("a"))
    for _ in range(2):
        assert (await svc.publish(publish("a"))).status == 202
        end_run(store, "a")
        clock.now += timedelta(seconds=1)
    assert (await svc.publish(publish("a"))).status == 429


async def test_a_quota_refusal_is_not_kept_for_the_idempotency_key() -> None:
    store, clock = MemoryCommandStore(), Clock()
    svc = CommandService(store=store, quotas=Quotas(max_runs_per_hour=1), clock=clock)
    await svc.save_draft(draft("a"))
    await svc.save_draft(draft("b"))
    assert (await svc.publish(publish("a"))).status == 202
    assert (await svc.publish(publish("b", key="k1"))).status == 429
    clock.now += RUN_WINDOW
    # The same request with the same key, retried after Retry-After, acts.
    assert (await svc.publish(publish("b", key="k1"))).status == 202


async def test_refusals_for_other_reasons_come_first_and_use_no_quota() -> None:
    store, clock = MemoryCommandStore(), Clock()
    svc = CommandService(store=store, quotas=Quotas(max_runs_per_hour=1), clock=clock)
    await svc.save_draft(draft("a"))
    assert (await svc.publish(publish("a"))).status == 202
    assert (await svc.publish(publish("a"))).status == 409  # still running: not a quota matter
    assert len(store.run_starts[PUB]) == 1
    # A Cancel is no run: the quota does not apply to sign-off decisions.
    state = store.states[(PUB, "a")]
    store.states[(PUB, "a")] = state.replace(run_phase=RunPhase.SIGNOFF)
    assert state.run_id is not None
    assert (await svc.cancel(Cancel(publisher_id=PUB, offer_id="a", requested_by=PUB))).status == 200
    assert any(isinstance(e.event(), CancelRequested) for e in store.outbox)
