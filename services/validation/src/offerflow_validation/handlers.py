"""One function per event, each taking the service's ``Deps`` first; ``HANDLERS`` at the bottom is the table the
runtime dispatches on."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from offerflow_contract.envelope import Envelope
from offerflow_contract.events import (
    PublishRequested,
    Reason,
    ValidationFailed,
    ValidationPassed,
    ValidationStarted,
)
from offerflow_shared.outbox import Outbox
from offerflow_shared.service import Handlers
from offerflow_validation import rules
from offerflow_validation.adapters.artifacts import ArtifactError, ArtifactFetcher


@dataclass(frozen=True)
class Deps:
    fetcher: ArtifactFetcher
    min_url_validity: timedelta = rules.DEFAULT_MIN_URL_VALIDITY


async def on_publish_requested(deps: Deps, env: Envelope, event: PublishRequested, out: Outbox) -> None:
    await out.emit(ValidationStarted(message="Checking every rule of the offer, its logos and screenshots."))
    definition = event.offer.definition
    # The request's own time, not the clock: a redelivered request is judged exactly as the first time.
    problems = rules.check(definition, now=env.occurred_at, min_url_validity=deps.min_url_validity)
    problems += await artifact_problems(rules.artifacts(definition), deps.fetcher, env.publisher_id)
    errors = [p for p in problems if p.level == "error"]
    if errors:
        await out.emit(ValidationFailed(summary=rules.summary(errors), reasons=problems,
                                        notification_emails=event.offer.notification_emails))
    else:
        await out.emit(ValidationPassed(offer=event.offer, warnings=problems))


async def artifact_problems(found: list[rules.Artifact], fetcher: ArtifactFetcher,
                            publisher: str | None = None) -> list[Reason]:
    """Fetch every artifact at once and measure each; a fetch failure is that artifact's problem only.
    ``publisher`` (the envelope's) decides which folder a development ``file://`` URL may name."""

    async def one(artifact: rules.Artifact) -> list[Reason]:
        try:
            data = await fetcher.fetch(artifact.url, publisher)
        except ArtifactError as exc:
            return [rules.unreachable(artifact, str(exc))]
        return await asyncio.to_thread(rules.pixel_problems, artifact, data)

    results = await asyncio.gather(*(one(a) for a in found))
    return [reason for result in results for reason in result]


HANDLERS: Handlers[Deps] = {PublishRequested: on_publish_requested}
