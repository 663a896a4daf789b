"""One function per event; the dict at the bottom is what the agent dispatches on."""

from __future__ import annotations

import asyncio
import functools

from offerflow_shared.envelope import Envelope
from offerflow_shared.events import (
    PublishRequested,
    Reason,
    ValidationFailed,
    ValidationPassed,
    ValidationStarted,
)
from offerflow_shared.runtime import Handler, Outbox, handles
from offerflow_validation import rules
from offerflow_validation.adapters.artifacts import ArtifactError, ArtifactFetcher


async def on_publish_requested(env: Envelope, event: PublishRequested, out: Outbox, *,
                               fetcher: ArtifactFetcher) -> None:
    await out.emit(ValidationStarted(message="Checking every rule of the offer, its logos and screenshots."))
    definition = event.offer.definition
    # The request's own time, not the clock: a redelivered request is judged exactly as the first time.
    problems = rules.check(definition, now=env.occurred_at)
    problems += await artifact_problems(rules.artifacts(definition), fetcher)
    errors = [p for p in problems if p.level == "error"]
    if errors:
        await out.emit(ValidationFailed(summary=rules.summary(errors), reasons=problems,
                                        notification_emails=event.offer.notification_emails))
    else:
        await out.emit(ValidationPassed(offer=event.offer, warnings=problems))


async def artifact_problems(found: list[rules.Artifact], fetcher: ArtifactFetcher) -> list[Reason]:
    """Fetch every artifact at once and measure each; a fetch failure is that artifact's problem only."""

    async def one(artifact: rules.Artifact) -> list[Reason]:
        try:
            data = await fetcher.fetch(artifact.url)
        except ArtifactError as exc:
            return [rules.unreachable(artifact, str(exc))]
        return await asyncio.to_thread(rules.pixel_problems, artifact, data)

    results = await asyncio.gather(*(one(a) for a in found))
    return [reason for result in results for reason in result]


def build_handlers(fetcher: ArtifactFetcher) -> dict[str, Handler]:
    return dict([handles(PublishRequested, functools.partial(on_publish_requested, fetcher=fetcher))])
