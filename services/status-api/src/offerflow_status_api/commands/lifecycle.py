"""Stage outcomes reach the command side: a run that failed, reached sign-off or went live moves its offer's
command-side state, so Publish, Go live and Cancel decide without the projection."""

from __future__ import annotations

from offerflow_contract.envelope import Envelope, Event
from offerflow_contract.events import OfferWentLive, PreviewReady, StageFailed, StepTimedOut
from offerflow_status_api.commands.ports import CommandStore
from offerflow_status_api.commands.rules import after_stage_event

MOVES_RUN = (StageFailed, StepTimedOut, PreviewReady, OfferWentLive)


class RunLifecycle:
    def __init__(self, store: CommandStore) -> None:
        self.store = store

    async def apply(self, env: Envelope, event: Event) -> bool:
        """True if the offer's state changed; safe to repeat (a redelivery finds nothing to change)."""
        if not isinstance(event, MOVES_RUN):
            return False
        async with self.store.offer(env.publisher_id, env.offer_id) as uow:
            moved = after_stage_event(uow.state, env.run_id, event)
            if moved is None:
                return False
            await uow.save(moved)
            return True
