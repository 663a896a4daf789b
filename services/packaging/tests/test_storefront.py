from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

from offerflow_contract.events import GoLiveRequested, PreviewReady
from offerflow_packaging.adapters.pages import LocalPageStore, MemoryPageStore
from offerflow_packaging.storefront import NOT_FOUND

SLUG = "contoso.web-server"


async def test_preview_is_only_for_the_audience(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore, grants: Any
) -> None:
    dispatcher, sink = make_dispatcher(pages)
    await dispatcher.process(kit.incoming(kit.staging_passed()))
    shop = kit.shop(pages, grants)
    (ready,) = [e for e in sink.events("offerflow.packaging") if isinstance(e, PreviewReady)]
    (sub_a, token_a), (sub_b, token_b) = map(kit.viewer, ready.preview_links)

    ok = await shop.preview_page(SLUG, sub_a, token_a)
    assert ok.status == 200 and b"Preview" in ok.body
    assert ok.headers["Cache-Control"] == "private, no-store"
    assert (await shop.preview_page(SLUG, kit.SUB_B.upper(), token_b)).status == 200
    assert (await shop.preview_listing(SLUG, sub_b, token_b)).status == 200

    # A subscription id alone, someone else's link, or a link naming another subscription: nothing.
    for sub, token in [(s, None) for s in (kit.SUB_A, kit.OUTSIDER, None, "", "not-a-guid")] + [
        (kit.OUTSIDER, token_a), (sub_b, token_a), (sub_a, token_b), (sub_a, "")
    ]:
        assert await shop.preview_page(SLUG, sub, token) == NOT_FOUND
    # An offer that does not exist answers exactly like a preview the caller may not see.
    assert await shop.preview_page("contoso.nothing", sub_a, token_a) == NOT_FOUND
    assert await shop.preview_page("../etc", sub_a, token_a) == NOT_FOUND
    assert NOT_FOUND.status == 404 and b"Contoso" not in NOT_FOUND.body


async def test_live_page_appears_only_after_go_live(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore, grants: Any
) -> None:
    dispatcher, _ = make_dispatcher(pages)
    await dispatcher.process(kit.incoming(kit.staging_passed()))
    shop = kit.shop(pages, grants)
    assert await shop.live_page(SLUG) == NOT_FOUND
    assert await shop.live_listing(SLUG) == NOT_FOUND

    await dispatcher.process(
        kit.incoming(kit.command(GoLiveRequested(offer_version=4, notification_emails=[], requested_by="p")))
    )
    page = await shop.live_page(SLUG)
    assert page.status == 200 and page.content_type.startswith("text/html")
    assert b"Contoso Web Server" in page.body and b"Preview" not in page.body
    listing = await shop.live_listing(SLUG)
    assert json.loads(listing.body)["slug"] == SLUG
    assert await shop.live_page("contoso") == NOT_FOUND
    assert shop.health().status == 200


def test_local_page_store_layout_and_removal(tmp_path: Path) -> None:
    store = LocalPageStore(tmp_path)
    store.write_slot("contoso", "web", "preview", {"listing.json": b"{}", "audience.json": b"[]"})
    folder = tmp_path / "contoso" / "web" / "preview"
    assert sorted(p.name for p in folder.iterdir()) == ["audience.json", "listing.json"]
    assert store.read("contoso", "web", "preview", "listing.json") == b"{}"
    assert store.read("contoso", "web", "production", "listing.json") is None
    assert store.remove_slot("contoso", "web", "preview") is True
    assert store.remove_slot("contoso", "web", "preview") is False
    assert not folder.exists()
