"""Preview links as credentials through the handlers and the storefront, with the in-memory grant store."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from offerflow_contract.envelope import Envelope, Event, wrap
from offerflow_contract.events import (
    GoLiveFailed,
    GoLiveRequested,
    OfferDraftSaved,
    OfferSnapshot,
    PackagingFailed,
    PreviewAudienceChanged,
    PreviewReady,
    PublishCanceled,
    PublishRequested,
    Reason,
    StepTimedOut,
)
from offerflow_contract.steps import StepId
from offerflow_packaging.adapters.grants import MemoryGrantStore
from offerflow_packaging.adapters.pages import MemoryPageStore
from offerflow_packaging.storefront import NOT_FOUND, UNAVAILABLE

SLUG = "contoso.web-server"


def envelope(event: Event, run_id: str | None = "run-1") -> Envelope:
    return wrap(event, offer_id="web-server", publisher_id="contoso", run_id=run_id, producer="status-api")


def draft(kit: ModuleType, *subscriptions: str, version: int = 7) -> Envelope:
    definition = kit.definition(allowedSubscriptions=list(subscriptions))
    return envelope(OfferDraftSaved(offer_type_id="vm", draft_version=version, etag='"e"', definition=definition),
                    run_id=None)


def publish(kit: ModuleType, run_id: str) -> Envelope:
    snapshot = OfferSnapshot(offer_version=4, definition=kit.definition(), notification_emails=[])
    return envelope(PublishRequested(offer=snapshot, requested_by="contoso"), run_id=run_id)


async def open_preview(kit: ModuleType, dispatcher: Any, sink: Any) -> list[tuple[str, str]]:
    """Publish then package run-1; the (subscriptionId, token) of each preview link, sorted by subscription."""
    await dispatcher.process(kit.incoming(publish(kit, "run-1")))
    await dispatcher.process(kit.incoming(kit.staging_passed()))
    (ready,) = [e for e in sink.events() if isinstance(e, PreviewReady)]
    return [kit.viewer(link) for link in ready.preview_links]


async def shows(shop: Any, viewer: tuple[str, str]) -> bool:
    page = await shop.preview_page(SLUG, *viewer)
    assert page.status in (200, 404) and (page.status == 200 or page == NOT_FOUND)
    return bool(page.status == 200)


async def test_removing_a_subscription_revokes_its_link_at_once_and_for_good(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore, grants: MemoryGrantStore
) -> None:
    dispatcher, sink = make_dispatcher(pages)
    a, b = await open_preview(kit, dispatcher, sink)
    shop = kit.shop(pages, grants)
    assert await shows(shop, a) and await shows(shop, b)

    removed = draft(kit, kit.SUB_A)
    sink.records.clear()
    await dispatcher.process(kit.incoming(removed))
    assert await shows(shop, a) and not await shows(shop, b)
    assert (await shop.preview_asset(SLUG, "0123456789abcdef.png", *b)) == NOT_FOUND
    # The open run is told its new audience, so its status stops listing the dead link.
    (told,) = sink.envelopes()
    assert told.run_id == "run-1" and told.event() == PreviewAudienceChanged(audience=[kit.SUB_A.lower()])
    await dispatcher.process(kit.incoming(removed))  # redelivered: the same state, the same event id
    assert await shows(shop, a) and not await shows(shop, b)
    assert [e.event_id for e in sink.envelopes()] == [told.event_id, told.event_id]

    # Put back on the list, the subscription does not revive a link that was withdrawn.
    await dispatcher.process(kit.incoming(draft(kit, kit.SUB_A, kit.SUB_B, version=8)))
    assert await shows(shop, a) and not await shows(shop, b)
    # A draft of another offer changes nothing here.
    other = wrap(OfferDraftSaved(offer_type_id="vm", draft_version=1, etag='"e"', definition=kit.definition(
        allowedSubscriptions=[])), offer_id="other", publisher_id="contoso", run_id=None, producer="status-api")
    await dispatcher.process(kit.incoming(other))
    assert await shows(shop, a)


async def test_cancel_revokes_every_link_and_a_late_redelivery_reopens_nothing(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore, grants: MemoryGrantStore
) -> None:
    dispatcher, sink = make_dispatcher(pages)
    a, b = await open_preview(kit, dispatcher, sink)
    shop = kit.shop(pages, grants)
    await dispatcher.process(kit.incoming(kit.command(PublishCanceled(notification_emails=[]))))
    assert not await shows(shop, a) and not await shows(shop, b)

    sink.records.clear()
    await dispatcher.process(kit.incoming(kit.staging_passed()))  # the run's input, replayed late
    assert sink.events() == []
    assert not [k for k in pages.files if k[2] == "preview"]
    assert not await shows(shop, a)


async def test_go_live_spends_the_preview_links_and_the_live_page_is_public(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore, grants: MemoryGrantStore
) -> None:
    dispatcher, sink = make_dispatcher(pages)
    a, b = await open_preview(kit, dispatcher, sink)
    shop = kit.shop(pages, grants)
    live = kit.command(GoLiveRequested(offer_version=4, notification_emails=[], requested_by="p"))
    await dispatcher.process(kit.incoming(live))
    assert not await shows(shop, a) and not await shows(shop, b)
    assert (await shop.live_page(SLUG)).status == 200
    await dispatcher.process(kit.incoming(live))  # redelivered: still live, still closed
    assert (await shop.live_page(SLUG)).status == 200 and not await shows(shop, a)


async def test_a_failed_go_live_ends_the_preview_too(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore, grants: MemoryGrantStore
) -> None:
    dispatcher, sink = make_dispatcher(pages)
    a, _ = await open_preview(kit, dispatcher, sink)
    await dispatcher.process(
        kit.incoming(kit.command(GoLiveRequested(offer_version=3, notification_emails=[], requested_by="p")))
    )
    assert isinstance(sink.events()[-1], GoLiveFailed)
    assert not await shows(kit.shop(pages, grants), a)


async def test_a_new_publish_supersedes_the_old_preview_and_an_old_replay_does_not_undo_it(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore, grants: MemoryGrantStore
) -> None:
    dispatcher, sink = make_dispatcher(pages)
    a, _ = await open_preview(kit, dispatcher, sink)
    await dispatcher.process(kit.incoming(publish(kit, "run-2")))
    assert not await shows(kit.shop(pages, grants), a)
    await dispatcher.process(kit.incoming(publish(kit, "run-1")))  # replayed after run-2 began
    assert await grants.run_closed("run-1") and not await grants.run_closed("run-2")


async def test_a_timed_out_run_loses_its_preview_and_a_late_package_announces_nothing(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore, grants: MemoryGrantStore
) -> None:
    dispatcher, sink = make_dispatcher(pages)
    a, _ = await open_preview(kit, dispatcher, sink)
    timed_out = StepTimedOut(step=StepId.SIGNOFF, limit_seconds=60, summary="took too long",
                             reasons=[Reason(code="step-timed-out", message="m")], notification_emails=[])
    await dispatcher.process(kit.incoming(envelope(timed_out)))
    assert not await shows(kit.shop(pages, grants), a)

    await dispatcher.process(kit.incoming(publish(kit, "run-2")))
    await dispatcher.process(kit.incoming(envelope(timed_out, run_id="run-2")))  # timed out before packaging
    sink.records.clear()
    late = envelope(kit.staging_passed().event(), run_id="run-2")
    await dispatcher.process(kit.incoming(late))
    assert sink.events() == []
    assert not [k for k in grants.grants if k[0] == "run-2"]


async def test_a_subscription_removed_before_packaging_gets_no_link(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore, grants: MemoryGrantStore
) -> None:
    dispatcher, sink = make_dispatcher(pages)
    await dispatcher.process(kit.incoming(draft(kit, kit.SUB_A, kit.SUB_B, version=1)))  # before Publish
    await dispatcher.process(kit.incoming(publish(kit, "run-1")))
    await dispatcher.process(kit.incoming(draft(kit, kit.SUB_B, version=2)))  # during the run
    await dispatcher.process(kit.incoming(kit.staging_passed()))
    (ready,) = [e for e in sink.events() if isinstance(e, PreviewReady)]
    assert [kit.viewer(link)[0] for link in ready.preview_links] == [kit.SUB_B]
    assert ready.audience == sorted([kit.SUB_A.lower(), kit.SUB_B])  # what the run's snapshot listed


async def test_no_link_left_fails_the_step(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore
) -> None:
    dispatcher, sink = make_dispatcher(pages)
    await dispatcher.process(kit.incoming(publish(kit, "run-1")))
    await dispatcher.process(kit.incoming(draft(kit)))
    await dispatcher.process(kit.incoming(kit.staging_passed()))
    failed = sink.events()[-1]
    assert isinstance(failed, PackagingFailed) and failed.reasons[0].code == "no-preview-audience"


async def test_an_expired_link_shows_nothing(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore, grants: MemoryGrantStore
) -> None:
    dispatcher, sink = make_dispatcher(pages)
    a, _ = await open_preview(kit, dispatcher, sink)
    (grant,) = [g for (run, sub), g in grants.grants.items() if sub == a[0]]
    assert await shows(kit.shop(pages, grants, clock=lambda: grant.expires_at - 1), a)
    assert not await shows(kit.shop(pages, grants, clock=lambda: grant.expires_at), a)


async def test_an_unreachable_grant_store_never_shows_the_preview(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore, grants: MemoryGrantStore
) -> None:
    dispatcher, sink = make_dispatcher(pages)
    a, _ = await open_preview(kit, dispatcher, sink)

    class Down(MemoryGrantStore):
        async def is_active(self, grant: Any) -> bool:
            raise ConnectionRefusedError("database down")

    reply = await kit.shop(pages, Down()).preview_page(SLUG, *a)
    assert reply == UNAVAILABLE and reply.status == 503 and b"Contoso" not in reply.body


async def test_a_go_live_the_runtime_gives_up_on_closes_the_preview(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore, grants: MemoryGrantStore, tmp_path: Any
) -> None:
    """The production wiring: when packaging itself ends the run (here an injected fault on Go live), the run's
    preview links stop working at once, as for every other end of a run."""
    from offerflow_packaging import bootstrap, handlers
    from offerflow_shared import service
    from offerflow_shared.faults import Faults

    dispatcher, sink = make_dispatcher(pages)
    a, _ = await open_preview(kit, dispatcher, sink)
    wired = service.dispatcher(bootstrap.SPEC, handlers.HANDLERS, kit.deps_for(pages, grants), sink,
                               faults=Faults(tmp_path, "packaging"), after_failure=bootstrap.close_preview)
    (tmp_path / "packaging").write_text("web-server\n")
    await wired.process(kit.incoming(kit.command(GoLiveRequested(offer_version=4, notification_emails=[],
                                                                 requested_by="p"))))
    failed = sink.events()[-1]
    assert isinstance(failed, GoLiveFailed) and failed.reasons[0].code == "internal-error"
    assert not await shows(kit.shop(pages, grants), a)
