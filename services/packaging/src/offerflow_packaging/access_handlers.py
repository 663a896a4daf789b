"""Handlers that keep preview grants in step with the publisher's commands (``offerflow.publishing``).

Drafts and Publish arrive on the offer's partition in the order the API accepted them, so a draft saved after
a Publish is seen after it: it narrows that run's preview audience, one saved before it belongs to the run's
own snapshot. A step the supervisor timed out ends the run. Revocation takes effect at the storefront on the
next request.
"""

from __future__ import annotations

import logging
from typing import Protocol

from offerflow_contract.envelope import Envelope
from offerflow_contract.events import OfferDraftSaved, PreviewAudienceChanged, PublishRequested, StepTimedOut
from offerflow_packaging import rules
from offerflow_packaging.access import PreviewAccess
from offerflow_shared.offer import marketplace
from offerflow_shared.outbox import Outbox

log = logging.getLogger("offerflow.packaging.access")


class WithAccess(Protocol):
    """What these handlers need of the service's ``Deps`` (a protocol: ``handlers`` imports this module)."""

    @property
    def access(self) -> PreviewAccess: ...


async def on_publish_requested(deps: WithAccess, env: Envelope, event: PublishRequested, out: Outbox) -> None:
    """A new run of the offer: the previous runs have ended, so their preview links stop working."""
    grants = deps.access.grants
    if env.run_id is None:
        return  # not a run (a malformed command); nothing to open or supersede
    await grants.start_run(env.publisher_id, env.offer_id, env.run_id)


async def on_draft_saved(deps: WithAccess, env: Envelope, event: OfferDraftSaved, out: Outbox) -> None:
    """Subscriptions no longer in the draft's preview audience lose the open run's preview at once.

    Each open run is told the new audience (``offer.preview_audience_changed``), so its status stops listing the
    links that no longer open anything. Emitted for every open run on every delivery, with ids derived from the
    draft and the run: a crash between the revocation and the event cannot lose it.
    """
    grants = deps.access.grants
    audience = rules.normalise_audience(marketplace(event.definition, "allowedSubscriptions"))
    runs = await grants.open_runs(env.publisher_id, env.offer_id)
    revoked = await grants.restrict(env.publisher_id, env.offer_id, audience)
    if revoked:
        log.info("preview access revoked for %d subscription(s) removed from the audience", len(revoked))
    for run_id in runs:
        await out.emit(PreviewAudienceChanged(audience=sorted(audience)), run_id=run_id, discriminator=run_id)


async def on_step_timed_out(deps: WithAccess, env: Envelope, event: StepTimedOut, out: Outbox) -> None:
    """The supervisor failed the run: it has ended, so its preview (if any, or if one is still coming) is closed."""
    grants = deps.access.grants
    if env.run_id is not None:
        await grants.close_run(env.publisher_id, env.offer_id, env.run_id, "step timed out")
