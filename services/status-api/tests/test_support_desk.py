"""The support desk's command side with in-memory fakes: the lifecycle, its refusals, ownership and races."""

from __future__ import annotations

import asyncio

import pytest

from offerflow_contract.events import (
    SupportRequestAnswered,
    SupportRequestClosed,
    SupportRequestOpened,
    SupportRequestReplied,
)
from offerflow_status_api.commands import CommandService, NotFound, OpenSupportRequest, SaveDraft
from offerflow_status_api.commands.memory import MemoryCommandStore
from offerflow_status_api.commands.support import (
    ANSWERED,
    CLOSED,
    OPEN,
    SupportConflict,
    SupportDesk,
    SupportRow,
    refusal,
    transition,
)
from offerflow_status_api.commands.support_memory import MemorySupportStore
from offerflow_status_api.projection.view import RunView

PUB, OFFER = "contoso", "web"


class Runs:
    """The read model's run context: one run with its notification addresses."""

    def __init__(self) -> None:
        self.run = RunView("run-1", OFFER, PUB, requested=True, notification_emails=["owner@contoso.example"])

    async def fold(self, run_id: str) -> RunView | None:
        return self.run if run_id == self.run.run_id else None

    async def current_run(self, publisher_id: str, offer_id: str) -> RunView | None:
        return self.run if (publisher_id, offer_id) == (PUB, OFFER) else None


@pytest.fixture
async def store() -> MemoryCommandStore:
    s = MemoryCommandStore()
    await CommandService(store=s).save_draft(SaveDraft(publisher_id=PUB, offer_id=OFFER, offer_type_id="vm",
                                                       definition={"displayText": "Web"}, if_match="*"))
    return s


@pytest.fixture
def desk(store: MemoryCommandStore) -> SupportDesk:
    return SupportDesk(store, MemorySupportStore(store), Runs())


async def opened(desk: SupportDesk) -> str:
    body = await desk.open(OpenSupportRequest(publisher_id=PUB, offer_id=OFFER, run_id=None, title="Stuck",
                                              description="Certification fails"))
    return str(body["id"])


def row(status: str) -> SupportRow:
    return SupportRow("sr-1", PUB, OFFER, "run-1", "displaycertify", "Stuck", status=status, seq=3)


@pytest.mark.parametrize(("status", "action", "after"), [
    (OPEN, "answer", ANSWERED), (OPEN, "reply", OPEN), (OPEN, "close", CLOSED),
    (ANSWERED, "reply", OPEN), (ANSWERED, "close", CLOSED)])
def test_allowed_transitions_move_the_request_and_its_sequence(status: str, action: str, after: str) -> None:
    moved = transition(row(status), action)  # type: ignore[arg-type]
    assert (moved.status, moved.seq) == (after, 4)


@pytest.mark.parametrize(("status", "action", "code"), [
    (ANSWERED, "answer", "SupportRequestAnswered"), (CLOSED, "answer", "SupportRequestClosed"),
    (CLOSED, "reply", "SupportRequestClosed"), (CLOSED, "close", "SupportRequestClosed")])
def test_refused_transitions_say_why(status: str, action: str, code: str) -> None:
    problem = refusal(row(status), action)  # type: ignore[arg-type]
    assert problem is not None and problem.code == code and "sr-1" in str(problem)


async def test_open_answer_reply_close_emits_one_event_each_in_sequence(desk: SupportDesk,
                                                                        store: MemoryCommandStore) -> None:
    rid = await opened(desk)
    assert (await desk.answer(rid, "Convert the disk to fixed size.", "alice")).status == ANSWERED
    assert (await desk.reply(PUB, rid, "It is fixed already.")).status == OPEN
    assert (await desk.answer(rid, "Then the footer is wrong.", "alice")).status == ANSWERED
    closed = await desk.close(rid, PUB, publisher_id=PUB, message="Solved")
    assert (closed.status, closed.seq) == (CLOSED, 5)
    events = [env.event() for env in store.outbox if env.payload.get("request_id") == rid]
    assert [type(e) for e in events] == [SupportRequestOpened, SupportRequestAnswered, SupportRequestReplied,
                                         SupportRequestAnswered, SupportRequestClosed]
    assert [getattr(e, "seq", 1) for e in events] == [1, 2, 3, 4, 5]
    answered = events[1]
    assert isinstance(answered, SupportRequestAnswered)
    assert answered.contact_emails == ["owner@contoso.example"] and answered.title == "Stuck"
    last = events[-1]
    assert isinstance(last, SupportRequestClosed) and last.role == "publisher" and last.message == "Solved"
    assert {env.run_id for env in store.outbox if env.payload.get("request_id") == rid} == {"run-1"}


async def test_a_second_answer_or_close_is_refused_and_emits_nothing(desk: SupportDesk,
                                                                     store: MemoryCommandStore) -> None:
    rid = await opened(desk)
    await desk.answer(rid, "First", "alice")
    before = len(store.outbox)
    with pytest.raises(SupportConflict) as again:
        await desk.answer(rid, "Second", "bob")
    assert again.value.code == "SupportRequestAnswered"
    await desk.close(rid, "support")
    for attempt in (desk.close(rid, "support"), desk.reply(PUB, rid, "hello?"), desk.answer(rid, "x", "a")):
        with pytest.raises(SupportConflict) as closed:
            await attempt
        assert closed.value.code == "SupportRequestClosed"
    assert len(store.outbox) == before + 1  # the one close


async def test_concurrent_answers_give_one_event_and_one_refusal(desk: SupportDesk,
                                                                 store: MemoryCommandStore) -> None:
    rid = await opened(desk)
    results = await asyncio.gather(*(desk.answer(rid, f"answer {i}", "desk") for i in range(2)),
                                   return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["SupportConflict", "SupportRow"]
    assert sum(1 for env in store.outbox if env.event_type == SupportRequestAnswered.event_type) == 1


async def test_another_publishers_request_is_not_found(desk: SupportDesk) -> None:
    rid = await opened(desk)
    with pytest.raises(NotFound):
        await desk.reply("fabrikam", rid, "mine?")
    with pytest.raises(NotFound):
        await desk.close(rid, "fabrikam", publisher_id="fabrikam")
    with pytest.raises(NotFound):
        await desk.answer("sr-unknown", "x", "desk")


async def test_opening_needs_the_offer_and_a_known_run(desk: SupportDesk) -> None:
    with pytest.raises(NotFound):
        await desk.open(OpenSupportRequest(publisher_id=PUB, offer_id="nope", run_id=None, title="t",
                                           description="d"))
    with pytest.raises(NotFound):
        await desk.open(OpenSupportRequest(publisher_id=PUB, offer_id=OFFER, run_id="run-9", title="t",
                                           description="d"))
