from __future__ import annotations

import errno
import json
import time
from types import ModuleType
from typing import Any

import pytest
from jinja2 import TemplateError

from offerflow_contract.events import (
    GoLiveFailed,
    GoLiveRequested,
    OfferWentLive,
    PackagingFailed,
    PackagingPassed,
    PackagingProgressed,
    PackagingStarted,
    PreviewReady,
    PreviewWithdrawn,
    PublishCanceled,
)
from offerflow_packaging import access_rules, handlers
from offerflow_packaging.adapters.pages import MemoryPageStore

KEY = ("contoso", "web-server")


async def package(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore, **marketing: Any
) -> list[Any]:
    dispatcher, sink = make_dispatcher(pages)
    await dispatcher.process(kit.incoming(kit.staging_passed(**marketing)))
    return list(sink.events("offerflow.packaging"))


async def test_happy_path_writes_the_preview_slot_and_announces_it(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore
) -> None:
    events = await package(kit, make_dispatcher, pages)
    assert [type(e) for e in events] == [
        PackagingStarted,
        PackagingProgressed,
        PackagingProgressed,
        PackagingPassed,
        PreviewReady,
    ]
    audience = sorted([kit.SUB_A.lower(), kit.SUB_B])
    passed, ready = events[3], events[4]
    links = passed.preview_links
    # One credential per whitelisted subscription: the link names it and carries a token signed for it.
    assert [link.split("&access=")[0] for link in links] == [
        f"http://shop.test/preview/contoso.web-server?subscriptionId={s}" for s in audience
    ]
    for link, sub in zip(links, audience, strict=True):
        grant = access_rules.verify(kit.PREVIEW_KEY, kit.viewer(link)[1], time.time())
        assert grant is not None and (grant.publisher, grant.offer, grant.run_id, grant.subscription) == (
            *KEY, "run-1", sub)
    assert passed.warnings == []
    assert passed.offer.offer_version == 4
    assert ready.preview_links == links
    assert ready.audience == audience
    assert ready.offer_version == 4 and ready.notification_emails == ["ops@contoso.example"]
    assert "no lead destination configured" in events[2].message

    files = {k[3]: v for k, v in pages.files.items() if k[:3] == (*KEY, "preview")}
    assets = {name for name in files if name.startswith("assets/")}
    assert set(files) - assets == {"index.html", "listing.json", "audience.json", "live.html"}
    assert len(assets) == 6  # the large logo and the first 5 screenshots, copied
    assert list(files)[-1] == "audience.json"
    assert json.loads(files["audience.json"]) == audience
    listing = json.loads(files["listing.json"])
    plan = listing["plans"][0]
    assert plan["image_version"] == "1.0.10"
    assert plan["regions"] == ["eastus", "westeurope"]
    assert plan["open_ports"] == ["22/TCP", "443/TCP"]
    assert plan["license_model"] == "Bring your own license"
    assert (plan["os_family"], plan["os_name"], plan["vm_sizes"]) == (
        "Linux",
        "Ubuntu 22.04",
        ["d2s-v3", "d4s-v3"],
    )
    assert len(listing["screenshots"]) == 5
    assert {listing["logos"]["large"], *listing["screenshots"]} == assets
    assert listing["logos"]["small"] is None
    assert files[listing["logos"]["large"]] == kit.png(kit.LOGO_URL)
    assert listing["publisher"]["name"] == "Contoso Ltd"
    assert "<script" not in listing["description_html"]

    preview, live = files["index.html"].decode(), files["live.html"].decode()
    assert "Preview — visible only to the whitelisted subscriptions" in preview
    assert "Preview —" not in live
    for page in (preview, live):
        assert "Contoso Web Server" in page and "Gold" in page and "westeurope" in page
        assert "<script" not in page and "onclick" not in page and "javascript:" not in page
        assert '<a href="https://contoso.example/docs"' in page
        assert "cdn.contoso.example" not in page  # images are served from the storefront's copies
    logo = listing["logos"]["large"]
    assert f'src="/preview/contoso.web-server/{logo}?__OFFERFLOW_PREVIEW_ACCESS__"' in preview
    assert f'src="/apps/contoso.web-server/{logo}"' in live


async def test_same_event_twice_gives_identical_events_and_files(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore
) -> None:
    dispatcher, sink = make_dispatcher(pages)
    env = kit.staging_passed()
    await dispatcher.process(kit.incoming(env))
    first = [(e.event_id, e.event_type, e.payload) for e in sink.envelopes()]
    files = dict(pages.files)
    sink.records.clear()
    await dispatcher.process(kit.incoming(env))
    assert [(e.event_id, e.event_type, e.payload) for e in sink.envelopes()] == first
    assert pages.files == files


async def test_configured_lead_destination_is_a_warning_not_a_fake_success(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore
) -> None:
    events = await package(kit, make_dispatcher, pages, leadDestination="Marketo")
    passed = next(e for e in events if isinstance(e, PackagingPassed))
    assert [w.code for w in passed.warnings] == ["lead-destination-unsupported"]
    assert "no test lead was sent" in passed.warnings[0].message


async def test_store_error_fails_the_step(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore
) -> None:
    pages.fail_with = OSError(errno.ENOSPC, "No space left on device")
    failed = (await package(kit, make_dispatcher, pages))[-1]
    assert isinstance(failed, PackagingFailed)
    assert failed.reasons[0].code == "page-store-failed"
    assert "No space left on device" in failed.summary
    assert failed.notification_emails == ["ops@contoso.example"]


async def test_template_error_fails_the_step(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> str:
        raise TemplateError("unexpected end of template")

    monkeypatch.setattr(handlers, "render_page", broken)
    failed = (await package(kit, make_dispatcher, pages))[-1]
    assert isinstance(failed, PackagingFailed)
    assert failed.reasons[0].code == "render-failed"
    assert pages.files == {}


async def test_offer_without_valid_audience_fails(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore
) -> None:
    failed = (await package(kit, make_dispatcher, pages, allowedSubscriptions=["nope"]))[-1]
    assert isinstance(failed, PackagingFailed)
    assert failed.reasons[0].code == "no-preview-audience"


async def test_go_live_promotes_the_preview_and_is_idempotent(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore
) -> None:
    await package(kit, make_dispatcher, pages)
    dispatcher, sink = make_dispatcher(pages)
    env = kit.command(
        GoLiveRequested(offer_version=4, notification_emails=["ops@contoso.example"], requested_by="p")
    )
    await dispatcher.process(kit.incoming(env))
    await dispatcher.process(kit.incoming(env))
    first, second = sink.envelopes()
    assert (first.event_id, first.payload) == (second.event_id, second.payload)
    live = first.event()
    assert isinstance(live, OfferWentLive)
    assert live.live_links == ["http://shop.test/apps/contoso.web-server"]
    assert live.offer_version == 5  # going live increments the previewed version
    assert pages.read(*KEY, "production", "index.html") == pages.read(*KEY, "preview", "live.html")
    assert pages.read(*KEY, "production", "listing.json") == pages.read(*KEY, "preview", "listing.json")
    assert pages.read(*KEY, "production", "audience.json") is None


async def test_go_live_without_a_preview_fails(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore
) -> None:
    dispatcher, sink = make_dispatcher(pages)
    env = kit.command(
        GoLiveRequested(offer_version=4, notification_emails=["ops@contoso.example"], requested_by="p")
    )
    await dispatcher.process(kit.incoming(env))
    failed = sink.events()[-1]
    assert isinstance(failed, GoLiveFailed)
    assert failed.reasons[0].code == "no-preview"
    assert failed.notification_emails == ["ops@contoso.example"]


async def test_go_live_for_another_version_fails(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore
) -> None:
    await package(kit, make_dispatcher, pages)
    dispatcher, sink = make_dispatcher(pages)
    env = kit.command(GoLiveRequested(offer_version=3, notification_emails=[], requested_by="p"))
    await dispatcher.process(kit.incoming(env))
    failed = sink.events()[-1]
    assert isinstance(failed, GoLiveFailed)
    assert failed.reasons[0].code == "preview-version-mismatch"
    assert pages.read(*KEY, "production", "index.html") is None


async def test_cancel_withdraws_the_preview_idempotently(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore
) -> None:
    await package(kit, make_dispatcher, pages)
    dispatcher, sink = make_dispatcher(pages)
    env = kit.command(PublishCanceled(notification_emails=["ops@contoso.example"]))
    await dispatcher.process(kit.incoming(env))
    await dispatcher.process(kit.incoming(env))
    assert not [k for k in pages.files if k[2] == "preview"]
    first, second = sink.envelopes()
    assert first.event_id == second.event_id
    withdrawn = first.event()
    assert isinstance(withdrawn, PreviewWithdrawn)
    assert withdrawn.reason == "Canceled by the publisher at sign-off"
