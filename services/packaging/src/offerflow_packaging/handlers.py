"""One function per event, each taking the service's ``Deps`` first; ``HANDLERS`` at the bottom is the table the
runtime dispatches on."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateError

from offerflow_contract.envelope import Envelope
from offerflow_contract.events import (
    GoLiveFailed,
    GoLiveRequested,
    OfferDraftSaved,
    OfferWentLive,
    PackagingFailed,
    PackagingPassed,
    PackagingProgressed,
    PackagingStarted,
    PreviewReady,
    PreviewWithdrawn,
    PublishCanceled,
    PublishRequested,
    Reason,
    StagingPassed,
    StepTimedOut,
)
from offerflow_packaging import access_handlers, rules
from offerflow_packaging.access import PreviewAccess
from offerflow_packaging.adapters.artifacts import ArtifactSource
from offerflow_packaging.adapters.leads import LeadDestination
from offerflow_packaging.adapters.pages import PageStore
from offerflow_packaging.assets import AssetProblem, collect
from offerflow_packaging.listing import build_listing
from offerflow_packaging.render import render_page
from offerflow_shared.names import UnsafeName
from offerflow_shared.offer import marketplace
from offerflow_shared.outbox import Outbox
from offerflow_shared.secrets import SecretBox, SecretUnavailable
from offerflow_shared.service import Handlers


@dataclass(frozen=True)
class Deps:
    pages: PageStore
    leads: LeadDestination
    artifacts: ArtifactSource
    storefront_url: str
    access: PreviewAccess
    secrets: SecretBox = field(default_factory=lambda: SecretBox(None))


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).encode()


async def _fail(out: Outbox, code: str, message: str, emails: list[str], pointer: str | None = None) -> None:
    await out.emit(
        PackagingFailed(
            summary=message,
            reasons=[Reason(code=code, message=message, field=pointer)],
            notification_emails=emails,
        )
    )


async def on_staging_passed(deps: Deps, env: Envelope, event: StagingPassed, out: Outbox) -> None:
    publisher, offer, snapshot = env.publisher_id, env.offer_id, event.offer
    emails = snapshot.notification_emails
    run_id = env.run_id or str(env.event_id)
    if await deps.access.grants.run_closed(run_id):
        # A late redelivery of a run that has since ended (live, canceled, superseded): its events went out
        # the first time; rewriting its preview or re-announcing it would reopen what the publisher closed.
        return
    await out.emit(PackagingStarted(message="Merging technical and marketing content into the product page."))
    try:
        rules.slug(publisher, offer)
    except UnsafeName as exc:
        await _fail(out, "invalid-name", str(exc), emails)
        return
    audience = rules.normalise_audience(marketplace(snapshot.definition, "allowedSubscriptions"))
    if not audience:
        await _fail(
            out,
            "no-preview-audience",
            "The offer lists no valid preview subscription ID, so nobody "
            "could see the preview. Add at least one subscription GUID, then Publish again.",
            emails,
        )
        return
    try:
        # Copied before rendering: the pages point at the storefront's copies, never at the publisher's server.
        assets = await collect(snapshot.definition, deps.artifacts, env.publisher_id)
    except AssetProblem as exc:
        await _fail(out, exc.code, exc.message, emails, exc.pointer)
        return
    try:
        listing = build_listing(publisher, offer, snapshot, event.replicas, assets)
        preview_page = render_page(listing, preview=True, audience_size=len(audience))
        live_page = render_page(listing, preview=False)
    except TemplateError as exc:
        await _fail(out, "render-failed", f"The product page could not be rendered: {exc}", emails)
        return
    await out.emit(
        PackagingProgressed(percentage=50, message="Product page and listing rendered."),
        discriminator="rendered",
    )

    try:
        # The credential exists in clear only here, for the time of the call; it is never logged.
        definition = deps.secrets.unseal(snapshot.definition)
    except SecretUnavailable as exc:
        await _fail(out, "lead-registration-failed", f"Lead registration is not possible: {exc}.", emails)
        return
    lead = await deps.leads.send_test_lead(env.run_id or str(env.event_id), publisher, offer, definition)
    if lead.status == "failed":
        # The preview is not written: a run whose leads would be lost must not reach sign-off.
        await _fail(out, "lead-registration-failed", lead.message, emails)
        return
    warnings = (
        []
        if lead.status != "unsupported"
        else [Reason(code="lead-destination-unsupported", message=lead.message, level="warning")]
    )
    await out.emit(
        PackagingProgressed(
            percentage=75, message=lead.message, level="warning" if warnings else "information"
        ),
        discriminator="lead",
    )

    files = {
        **assets.files,  # first: a page is never visible before the images it shows
        rules.LISTING: _json(listing),
        rules.LIVE_PAGE: live_page.encode(),
        rules.PAGE: preview_page.encode(),
        rules.AUDIENCE: _json(audience),  # last: the preview becomes visible only once the rest is in place
    }
    try:
        await asyncio.to_thread(deps.pages.write_slot, publisher, offer, rules.PREVIEW, files)
    except OSError as exc:
        await _fail(
            out,
            "page-store-failed",
            f"The preview could not be stored ({exc.strerror or exc}); publishing again may succeed.",
            emails,
        )
        return
    # One signed link per subscription still on the list (a draft saved since Publish may have removed some).
    links = await deps.access.issue_links(
        deps.storefront_url, publisher, offer, run_id, audience, env.occurred_at
    )
    if not links:
        if await deps.access.grants.run_closed(run_id):
            return  # the run ended meanwhile (e.g. the step timed out): nothing to announce
        await _fail(
            out,
            "no-preview-audience",
            "Every preview subscription was removed from the offer since Publish, so nobody could see the "
            "preview. Add at least one subscription GUID, then Publish again.",
            emails,
        )
        return
    await out.emit(PackagingPassed(offer=snapshot, preview_links=links, warnings=warnings))
    await out.emit(
        PreviewReady(
            offer_version=snapshot.offer_version,
            preview_links=links,
            audience=audience,
            notification_emails=emails,
        )
    )


async def on_golive_requested(deps: Deps, env: Envelope, event: GoLiveRequested, out: Outbox) -> None:
    publisher, offer, emails = env.publisher_id, env.offer_id, event.notification_emails

    async def fail(code: str, message: str) -> None:
        # The run ends here (sign-off is spent): its preview links stop working.
        await deps.access.grants.close_run(publisher, offer, env.run_id, "go live failed")
        await out.emit(
            GoLiveFailed(
                summary=message, reasons=[Reason(code=code, message=message)], notification_emails=emails
            )
        )

    try:
        link = rules.live_link(deps.storefront_url, publisher, offer)
    except UnsafeName as exc:
        await fail("invalid-name", str(exc))
        return

    async def read(slot: str, name: str) -> bytes | None:
        return await asyncio.to_thread(deps.pages.read, publisher, offer, slot, name)

    listing_raw, live_page = (
        await read(rules.PREVIEW, rules.LISTING),
        await read(rules.PREVIEW, rules.LIVE_PAGE),
    )
    if listing_raw is None or live_page is None:
        live_raw = await read(rules.PRODUCTION, rules.LISTING)
        if live_raw is not None and _version(live_raw) == event.offer_version:
            # Already promoted (a redelivery after the preview was cleaned up): the same outcome again.
            await deps.access.grants.close_run(publisher, offer, env.run_id, "went live")
            await out.emit(
                OfferWentLive(
                    offer_version=rules.live_version(event.offer_version),
                    live_links=[link],
                    notification_emails=emails,
                )
            )
        else:
            await fail("no-preview", "There is no preview to promote: package the offer (Publish) first.")
        return
    preview_version = _version(listing_raw)
    if preview_version != event.offer_version:
        await fail(
            "preview-version-mismatch",
            f"Go live was requested for version {event.offer_version}, "
            f"but the preview shows version {preview_version}; review the current preview first.",
        )
        return
    # Production gets its own copy of the images: a later cancel removes the whole preview slot.
    assets: dict[str, bytes] = {}
    for path in _asset_paths(listing_raw):
        data = await read(rules.PREVIEW, path)
        if data is None:
            await fail("no-preview", "The preview is incomplete (an image is missing): Publish again.")
            return
        assets[path] = data
    try:
        await asyncio.to_thread(
            deps.pages.write_slot,
            publisher,
            offer,
            rules.PRODUCTION,
            {**assets, rules.LISTING: listing_raw, rules.PAGE: live_page},
        )
    except OSError as exc:
        await fail(
            "page-store-failed",
            f"The page could not be published ({exc.strerror or exc}); choosing Go live again may succeed.",
        )
        return
    # Live for everyone now: the preview links of the run are spent.
    await deps.access.grants.close_run(publisher, offer, env.run_id, "went live")
    await out.emit(
        OfferWentLive(
            offer_version=rules.live_version(event.offer_version), live_links=[link], notification_emails=emails
        )
    )


async def on_publish_canceled(deps: Deps, env: Envelope, event: PublishCanceled, out: Outbox) -> None:
    # Revoked before the files go: no link works a moment longer than the run.
    await deps.access.grants.close_run(env.publisher_id, env.offer_id, env.run_id, "canceled")
    try:
        rules.slug(env.publisher_id, env.offer_id)
    except UnsafeName:
        pass  # such an offer never had a preview slot; withdrawing nothing is still a withdrawal
    else:
        await asyncio.to_thread(deps.pages.remove_slot, env.publisher_id, env.offer_id, rules.PREVIEW)
    await out.emit(PreviewWithdrawn(reason=event.reason))


def _version(raw: bytes) -> int | None:
    try:
        value = json.loads(raw)["offer"]["version"]
    except (ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, int) else None


def _asset_paths(raw: bytes) -> list[str]:
    """The ``assets/<file>`` paths a stored listing refers to (logos first, then screenshots), each once."""
    try:
        listing = json.loads(raw)
        values = [*listing.get("logos", {}).values(), *listing.get("screenshots", [])]
    except (ValueError, AttributeError, TypeError):
        return []
    paths = [v for v in values if isinstance(v, str) and rules.asset_file(v) is not None]
    return list(dict.fromkeys(paths))


HANDLERS: Handlers[Deps] = {
    StagingPassed: on_staging_passed,
    GoLiveRequested: on_golive_requested,
    PublishCanceled: on_publish_canceled,
    PublishRequested: access_handlers.on_publish_requested,
    OfferDraftSaved: access_handlers.on_draft_saved,
    StepTimedOut: access_handlers.on_step_timed_out,
}
