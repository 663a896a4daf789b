"""The storefront routes through Faust's own web server (no broker needed: the app is never started)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from offerflow_packaging import storefront
from offerflow_packaging.adapters.pages import MemoryPageStore
from offerflow_packaging.bootstrap import SPEC
from offerflow_packaging.settings import Settings
from offerflow_shared import service

SUB = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"


async def test_routes_serve_live_preview_and_health(kit: ModuleType, grants: Any) -> None:
    pages = MemoryPageStore()
    pages.write_slot(
        "contoso", "web", "preview", {"index.html": b"<p>preview</p>", "audience.json": f'["{SUB}"]'.encode()}
    )
    pages.write_slot(
        "contoso", "web", "production", {"index.html": b"<p>live</p>", "listing.json": b'{"slug": 1}'}
    )
    access = kit.preview_access(grants)
    (link,) = await access.issue_links("http://shop.test", "contoso", "web", "run-1", [SUB], datetime.now(UTC))
    _, token = kit.viewer(link)
    app = service.create(SPEC, Settings())
    storefront.register(app, storefront.Storefront(pages, access))

    async with TestClient(TestServer(app.web.web_app)) as client:
        health = await client.get("/healthz")
        assert health.status == 200

        preview = await client.get(f"/preview/contoso.web?subscriptionId={SUB.upper()}&access={token}")
        assert preview.status == 200
        assert preview.headers["Content-Type"] == "text/html; charset=utf-8"
        assert preview.headers["Referrer-Policy"] == "no-referrer"
        assert await preview.text() == "<p>preview</p>"

        outsider = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
        hidden = await client.get(f"/preview/contoso.web?subscriptionId={outsider}&access={token}")
        bare = await client.get(f"/preview/contoso.web?subscriptionId={SUB}")
        missing = await client.get(f"/preview/contoso.other?subscriptionId={SUB}&access={token}")
        assert hidden.status == bare.status == missing.status == 404
        assert await hidden.read() == await bare.read() == await missing.read()
        assert hidden.headers["Content-Type"] == "text/html; charset=utf-8"

        live = await client.get("/apps/contoso.web")
        assert live.status == 200 and await live.text() == "<p>live</p>"
        listing = await client.get("/apps/contoso.web/listing.json")
        assert listing.status == 200 and await listing.json() == {"slug": 1}
        assert (await client.get("/apps/contoso.other")).status == 404
