"""The command side with in-memory fakes: every refusal rule, idempotency, races and the run lifecycle."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from offerflow_contract.envelope import Envelope, Event, wrap
from offerflow_contract.events import (
    CancelRequested,
    CertificationFailed,
    GoLiveFailed,
    GoLiveRequested,
    OfferWentLive,
    PreviewReady,
    PublishCanceled,
    PublishRequested,
    Reason,
)
from offerflow_status_api.commands import (
    Cancel,
    CommandService,
    GoLive,
    NotFound,
    Publish,
    RunPhase,
    SaveDraft,
    StaleETag,
)
from offerflow_status_api.commands.lifecycle import RunLifecycle
from offerflow_status_api.commands.memory import MemoryCommandStore

PUB, OFFER = "contoso", "web"


@pytest.fixture
def store() -> MemoryCommandStore:
    return MemoryCommandStore()


@pytest.fixture
async def svc(store: MemoryCommandStore) -> CommandService:
    s = CommandService(store=store)
    await s.save_draft(SaveDraft(publisher_id=PUB, offer_id=OFFER, offer_type_id="vm",
                                 definition={"displayText": "Web"}, if_match="*"))
    return s


def publish(key: str | None = None, emails: tuple[str, ...] = ("a@b.example",)) -> Publish:
    return Publish(publisher_id=PUB, offer_id=OFFER, notification_emails=list(emails), requested_by=PUB,
                   idempotency_key=key)


def golive(key: str | None = None) -> GoLive:
    return GoLive(publisher_id=PUB, offer_id=OFFER, requested_by=PUB, idempotency_key=key)


def cancel(key: str | None = None) -> Cancel:
    return Cancel(publisher_id=PUB, offer_id=OFFER, requested_by=PUB, idempotency_key=key)


def events(store: MemoryCommandStore, cls: type[Event]) -> list[Envelope]:
    return [e for e in store.outbox if e.event_type == cls.event_type]


async def stage(store: MemoryCommandStore, event: Event, run_id: str | None) -> bool:
    env = wrap(event, offer_id=OFFER, publisher_id=PUB, run_id=run_id, producer="stage")
    return await RunLifecycle(store).apply(env, env.event())


PREVIEW = PreviewReady(offer_version=2, preview_links=["http://p"], audience=["s"], notification_emails=[])


async def at_signoff(svc: CommandService, store: MemoryCommandStore) -> str:
    answer = await svc.publish(publish())
    assert answer.status == 202 and answer.run_id
    assert await stage(store, PREVIEW, answer.run_id)
    return answer.run_id


def error_code(answer: Any) -> str:
    return str(answer.body["error"]["code"])


async def test_publish_starts_a_run_in_the_same_unit_of_work_as_its_event(svc: CommandService,
                                                                          store: MemoryCommandStore) -> None:
    answer = await svc.publish(publish())
    assert answer.status == 202 and answer.run_id and answer.run_id in answer.headers["Location"]
    [env] = events(store, PublishRequested)
    assert env.run_id == answer.run_id
    state = store.states[(PUB, OFFER)]
    assert state.run_id == answer.run_id and state.run_phase == RunPhase.RUNNING and state.version == 2


async def test_publish_of_an_unknown_offer_is_not_found(svc: CommandService) -> None:
    with pytest.raises(NotFound):
        await svc.publish(publish().model_copy(update={"offer_id": "nope"}))


async def test_publish_is_refused_while_a_run_is_running_or_at_signoff(svc: CommandService,
                                                                       store: MemoryCommandStore) -> None:
    first = await svc.publish(publish())
    running = await svc.publish(publish())
    assert running.status == 409 and error_code(running) == "OperationInProgress"
    assert first.run_id in running.body["error"]["message"] and running.body["error"]["retryable"]
    await stage(store, PREVIEW, first.run_id)
    signoff = await svc.publish(publish())
    assert signoff.status == 409 and "sign-off" in signoff.body["error"]["message"]
    assert len(events(store, PublishRequested)) == 1


@pytest.mark.parametrize("ending", [
    CertificationFailed(summary="bad", reasons=[Reason(code="internal-error", message="ours")]),
    GoLiveFailed(summary="bad", reasons=[Reason(code="x", message="y")]),
])
async def test_a_failed_step_ends_the_run_and_publish_works_again(svc: CommandService, store: MemoryCommandStore,
                                                                  ending: Event) -> None:
    first = await svc.publish(publish())
    assert await stage(store, ending, first.run_id)
    assert store.states[(PUB, OFFER)].run_phase == RunPhase.ENDED
    assert not await stage(store, ending, first.run_id)  # redelivered: nothing changes
    again = await svc.publish(publish())
    assert again.status == 202 and again.run_id != first.run_id


async def test_an_older_runs_events_never_move_the_current_run(svc: CommandService, store: MemoryCommandStore) -> None:
    first = await svc.publish(publish())
    await stage(store, CertificationFailed(summary="x", reasons=[Reason(code="c", message="m")]), first.run_id)
    second = await svc.publish(publish())
    assert not await stage(store, PREVIEW, first.run_id)
    assert store.states[(PUB, OFFER)].run_id == second.run_id
    assert store.states[(PUB, OFFER)].run_phase == RunPhase.RUNNING


async def test_signoff_commands_are_refused_before_signoff(svc: CommandService) -> None:
    never = await svc.go_live(golive())
    assert never.status == 409 and "never published" in never.body["error"]["message"]
    await svc.publish(publish())
    for answer in (await svc.go_live(golive()), await svc.cancel(cancel())):
        assert answer.status == 409 and error_code(answer) == "InvalidState"
        assert "still running" in answer.body["error"]["message"]


async def test_go_live_is_recorded_once_and_names_itself_to_a_second_decision(svc: CommandService,
                                                                              store: MemoryCommandStore) -> None:
    run_id = await at_signoff(svc, store)
    accepted = await svc.go_live(golive())
    assert accepted.status == 202 and accepted.run_id == run_id
    [env] = events(store, GoLiveRequested)
    assert env.run_id == run_id
    for answer in (await svc.go_live(golive()), await svc.cancel(cancel())):
        assert answer.status == 409 and error_code(answer) == "SignOffDecided"
        assert "Go live" in answer.body["error"]["message"]
    assert len(events(store, GoLiveRequested)) == 1 and not events(store, PublishCanceled)
    refused = await svc.publish(publish())
    assert refused.status == 409 and "going live" in refused.body["error"]["message"]
    await stage(store, OfferWentLive(offer_version=3, live_links=["http://l"], notification_emails=[]), run_id)
    state = store.states[(PUB, OFFER)]
    assert state.run_phase == RunPhase.ENDED and state.run_outcome == "succeeded"
    assert state.live_definition == {"displayText": "Web"}


async def test_cancel_is_idempotent_and_brings_the_offer_back_to_step_one(svc: CommandService,
                                                                          store: MemoryCommandStore) -> None:
    run_id = await at_signoff(svc, store)
    first = await svc.cancel(cancel())
    assert first.status == 200 and first.run_id == run_id
    assert first.body["status"] == "canceled" and first.body["currentStep"] == "displaydummycertify"
    assert {s["status"] for s in first.body["steps"]} == {"notStarted"}
    again = await svc.cancel(cancel())
    assert (again.status, again.body, again.headers) == (first.status, first.body, first.headers)
    assert len(events(store, CancelRequested)) == 1 and len(events(store, PublishCanceled)) == 1
    late = await svc.go_live(golive())
    assert late.status == 409 and "Cancel" in late.body["error"]["message"]
    assert (await svc.publish(publish())).status == 202


async def test_concurrent_go_live_and_cancel_accept_exactly_one(svc: CommandService,
                                                                store: MemoryCommandStore) -> None:
    for _ in range(10):
        await at_signoff(svc, store)
        answers = await asyncio.gather(*[svc.go_live(golive()) if i % 2 else svc.cancel(cancel())
                                         for i in range(20)])
        accepted = [a for a in answers if a.status in (200, 202)]
        kinds = {a.status for a in accepted}
        assert len(kinds) == 1  # Go live (202) or Cancel (200, repeated), never both
        if kinds == {202}:
            assert len(accepted) == 1
            await stage(store, OfferWentLive(offer_version=3, live_links=[], notification_emails=[]),
                        accepted[0].run_id)
        assert all(a.status == 409 for a in answers if a not in accepted)


async def test_concurrent_publishes_start_exactly_one_run(svc: CommandService, store: MemoryCommandStore) -> None:
    answers = await asyncio.gather(*[svc.publish(publish()) for _ in range(50)])
    assert sorted(a.status for a in answers) == [202] + [409] * 49
    assert len(events(store, PublishRequested)) == 1


async def test_a_repeated_idempotency_key_gets_the_first_answer(svc: CommandService,
                                                                store: MemoryCommandStore) -> None:
    first = await svc.publish(publish(key="k1"))
    again = await svc.publish(publish(key="k1"))
    assert again == first and len(events(store, PublishRequested)) == 1
    other = await svc.publish(publish(key="k1", emails=("other@b.example",)))
    assert other.status == 409 and error_code(other) == "IdempotencyKeyReused"
    refused = await svc.publish(publish(key="k2"))
    assert refused.status == 409
    await stage(store, CertificationFailed(summary="x", reasons=[Reason(code="c", message="m")]), first.run_id)
    assert await svc.publish(publish(key="k2")) == refused  # the first answer, even though it would pass now
    assert (await svc.publish(publish(key="k3"))).status == 202


async def test_concurrent_requests_with_one_key_act_once(svc: CommandService, store: MemoryCommandStore) -> None:
    answers = await asyncio.gather(*[svc.publish(publish(key="same")) for _ in range(20)])
    assert {a.status for a in answers} == {202} and len({a.run_id for a in answers}) == 1
    assert len(events(store, PublishRequested)) == 1


async def test_drafts_keep_etag_concurrency(svc: CommandService, store: MemoryCommandStore) -> None:
    with pytest.raises(StaleETag):
        await svc.save_draft(SaveDraft(publisher_id=PUB, offer_id=OFFER, offer_type_id="vm",
                                       definition={"displayText": "X"}, if_match='"stale"'))
    etag = store.states[(PUB, OFFER)].etag
    draft, created = await svc.save_draft(SaveDraft(publisher_id=PUB, offer_id=OFFER, offer_type_id="vm",
                                                    definition={"displayText": "X"}, if_match=etag))
    assert not created and draft.draft_version == 2 and draft.etag != etag
