"""Copying logos and screenshots into the page store and serving them from the storefront."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer

from offerflow_contract.events import GoLiveRequested, PackagingFailed, PreviewReady, PublishCanceled
from offerflow_packaging import storefront
from offerflow_packaging.adapters.artifacts import (
    ArtifactError,
    FileSource,
    HttpSource,
    MemoryArtifactSource,
    SchemeRouter,
)
from offerflow_packaging.adapters.pages import LocalPageStore, MemoryPageStore
from offerflow_packaging.assets import asset_path, image_extension
from offerflow_packaging.bootstrap import SPEC
from offerflow_packaging.settings import Settings
from offerflow_shared import service
from offerflow_shared.egress_policy import EgressPolicy

KEY = ("contoso", "web-server")
SLUG = "contoso.web-server"
JPEG = b"\xff\xd8\xff\xe0" + b"jfif"
M = "microsoft-azure-marketplace."


async def package(kit: ModuleType, make_dispatcher: Any, pages: Any, artifacts: Any, **marketing: Any) -> Any:
    dispatcher, sink = make_dispatcher(pages, artifacts=artifacts)
    await dispatcher.process(kit.incoming(kit.staging_passed(**marketing)))
    return sink.events("offerflow.packaging")[-1]


def stored_assets(pages: MemoryPageStore, slot: str) -> dict[str, bytes]:
    return {k[3]: v for k, v in pages.files.items() if k[:3] == (*KEY, slot) and k[3].startswith("assets/")}


def test_magic_bytes_decide_the_type() -> None:
    assert image_extension(b"\x89PNG\r\n\x1a\nrest") == "png"
    assert image_extension(JPEG) == "jpg"
    assert image_extension(b"GIF89a") is None and image_extension(b"<svg/>") is None
    assert asset_path(JPEG, "jpg").startswith("assets/") and asset_path(JPEG, "jpg").endswith(".jpg")


async def test_a_jpeg_logo_is_copied_with_its_own_extension(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore
) -> None:
    source = kit.artifact_source()
    source.artifacts["file:///logos/wide.jpg"] = JPEG
    ready = await package(kit, make_dispatcher, pages, source, wideLogo="file:///logos/wide.jpg")
    assert isinstance(ready, PreviewReady)
    assert stored_assets(pages, "preview")[asset_path(JPEG, "jpg")] == JPEG


async def test_an_artifact_that_is_not_an_image_fails_the_step(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore
) -> None:
    source = kit.artifact_source()
    source.artifacts[kit.LOGO_URL] = b"<html>not a logo</html>"
    failed = await package(kit, make_dispatcher, pages, source)
    assert isinstance(failed, PackagingFailed)
    reason = failed.reasons[0]
    assert reason.code == "artifact-not-an-image" and reason.field == f"/offer/{M}largeLogo"
    assert "largeLogo" in reason.message and "PNG or JPEG" in reason.message
    assert pages.files == {}  # nothing of the preview is written


async def test_an_unreachable_screenshot_names_its_place(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore
) -> None:
    source = kit.artifact_source()
    del source.artifacts[kit.SHOT_URLS[2]]
    failed = await package(kit, make_dispatcher, pages, source)
    assert isinstance(failed, PackagingFailed)
    assert failed.reasons[0].code == "artifact-unavailable"
    assert failed.reasons[0].field == f"/offer/{M}screenshots/2"
    assert "screenshot 3" in failed.summary and "s2.png does not exist" in failed.summary
    # Screenshots past the fifth are never shown, so never fetched.
    assert kit.SHOT_URLS[6] not in source.fetched


async def test_unsupported_scheme_fails_instead_of_being_dropped(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore
) -> None:
    router = SchemeRouter({"https": kit.artifact_source()})
    failed = await package(kit, make_dispatcher, pages, router, smallLogo="javascript:alert(1)")
    assert isinstance(failed, PackagingFailed)
    assert failed.reasons[0].field == f"/offer/{M}smallLogo"
    assert "the URL is not allowed" in failed.summary


async def test_go_live_copies_the_images_so_a_cancel_cannot_break_the_live_page(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore, grants: Any
) -> None:
    await package(kit, make_dispatcher, pages, kit.artifact_source())
    dispatcher, _ = make_dispatcher(pages)
    live = GoLiveRequested(offer_version=4, notification_emails=[], requested_by="p")
    await dispatcher.process(kit.incoming(kit.command(live)))
    assert stored_assets(pages, "production") == stored_assets(pages, "preview") != {}
    await dispatcher.process(kit.incoming(kit.command(PublishCanceled(notification_emails=[]))))
    assert stored_assets(pages, "preview") == {}

    shop = kit.shop(pages, grants)
    file = next(iter(stored_assets(pages, "production"))).removeprefix("assets/")
    reply = await shop.live_asset(SLUG, file)
    assert reply.status == 200 and reply.content_type == "image/png"
    assert reply.body.startswith(kit.PNG_MAGIC)
    assert "immutable" in reply.headers["Cache-Control"]
    assert await shop.live_asset(SLUG, "../listing.json") == storefront.NOT_FOUND
    assert await shop.live_asset(SLUG, "0123456789abcdef.gif") == storefront.NOT_FOUND


async def test_preview_images_need_the_viewers_preview_link(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore, grants: Any
) -> None:
    ready = await package(kit, make_dispatcher, pages, kit.artifact_source())
    assert isinstance(ready, PreviewReady)
    sub_a, token_a = kit.viewer(ready.preview_links[0])
    assert sub_a == kit.SUB_A.lower()
    shop = kit.shop(pages, grants)
    file = next(iter(stored_assets(pages, "preview"))).removeprefix("assets/")
    ok = await shop.preview_asset(SLUG, file, sub_a, token_a)
    assert ok.status == 200 and ok.content_type == "image/png"
    assert ok.headers["Cache-Control"] == "private, no-store"
    for sub, token in ((kit.OUTSIDER, token_a), (kit.SUB_B, token_a), (sub_a, None), (None, None), (sub_a, "x.y")):
        assert await shop.preview_asset(SLUG, file, sub, token) == storefront.NOT_FOUND
    assert await shop.preview_asset(SLUG, "0123456789abcdef.png", sub_a, token_a) == storefront.NOT_FOUND

    page = (await shop.preview_page(SLUG, kit.SUB_A.upper(), token_a)).body.decode()
    assert "__OFFERFLOW_PREVIEW_ACCESS__" not in page
    # The images carry the viewer's own credential (HTML-escaped in the attribute), so they pass the same check.
    assert f"/preview/{SLUG}/assets/" in page
    assert f"?subscriptionId={sub_a}&amp;access={token_a}" in page


async def test_asset_routes_through_the_web_server(kit: ModuleType, grants: Any) -> None:
    pages = MemoryPageStore()
    image, name = kit.png("x"), asset_path(kit.png("x"), "png")
    pages.write_slot(*KEY, "preview", {name: image, "audience.json": f'["{kit.SUB_B}"]'.encode()})
    pages.write_slot(*KEY, "production", {name: image})
    access = kit.preview_access(grants)
    (link,) = await access.issue_links("http://shop.test", *KEY, "run-1", [kit.SUB_B], datetime.now(UTC))
    sub, token = kit.viewer(link)
    app = service.create(SPEC, Settings())
    storefront.register(app, storefront.Storefront(pages, access))
    file = name.removeprefix("assets/")
    async with TestClient(TestServer(app.web.web_app)) as client:
        live = await client.get(f"/apps/{SLUG}/assets/{file}")
        assert live.status == 200 and live.headers["Content-Type"] == "image/png"
        assert await live.read() == image
        preview = await client.get(f"/preview/{SLUG}/assets/{file}", params={"subscriptionId": sub, "access": token})
        assert preview.status == 200 and preview.headers["Content-Type"] == "image/png"
        hidden = await client.get(f"/preview/{SLUG}/assets/{file}?subscriptionId={kit.OUTSIDER}")
        stolen = await client.get(f"/preview/{SLUG}/assets/{file}", params={"subscriptionId": kit.OUTSIDER,
                                                                            "access": token})
        bare = await client.get(f"/preview/{SLUG}/assets/{file}")
        assert hidden.status == stolen.status == bare.status == 404


def test_local_store_keeps_assets_in_their_folder(tmp_path: Path) -> None:
    store = LocalPageStore(tmp_path)
    name = asset_path(JPEG, "jpg")
    store.write_slot("contoso", "web", "production", {name: JPEG, "index.html": b"x"})
    assert (tmp_path / "contoso" / "web" / "production" / name).read_bytes() == JPEG
    assert store.read("contoso", "web", "production", name) == JPEG
    for bad in ("assets/../index.html", "assets/x.png", "other/0123456789abcdef.png"):
        with pytest.raises(ValueError):
            store.read("contoso", "web", "production", bad)


async def test_file_source_reads_the_publishers_files_within_the_limit(tmp_path: Path) -> None:
    (tmp_path / "contoso").mkdir()
    small, big = tmp_path / "contoso" / "logo.png", tmp_path / "contoso" / "big.png"
    small.write_bytes(JPEG)
    big.write_bytes(b"\x89PNG" + b"0" * 2000)
    source = FileSource(EgressPolicy(file_root=tmp_path), max_bytes=1024)
    assert await source.fetch(small.as_uri(), "contoso") == JPEG
    with pytest.raises(ArtifactError, match="larger than 1024 bytes"):
        await source.fetch(big.as_uri(), "contoso")
    with pytest.raises(ArtifactError, match="could not be fetched"):
        await source.fetch((tmp_path / "contoso" / "nope.png").as_uri(), "contoso")
    for url, publisher in (("file://elsewhere/logo.png", "contoso"), (small.as_uri(), "fabrikam")):
        with pytest.raises(ArtifactError, match="the URL is not allowed"):
            await source.fetch(url, publisher)


def _http(handler: Any, **kwargs: Any) -> HttpSource:
    # The mock transport stands for public servers (body and redirect rules); real connections to inward
    # addresses are refused in tests/security/test_ssrf.py.
    return HttpSource(EgressPolicy(), client=httpx.AsyncClient(transport=httpx.MockTransport(handler)), **kwargs)


async def test_http_source_bounds_the_body_and_checks_every_redirect_scheme() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/big.png":
            return httpx.Response(200, content=b"0" * 5000)
        if request.url.path == "/hop.png":
            return httpx.Response(302, headers={"location": "gopher://127.0.0.1/secret.png"})
        if request.url.path == "/gone.png":
            return httpx.Response(404)
        return httpx.Response(200, content=JPEG)

    source = _http(handler, max_bytes=1024)
    assert await source.fetch("https://93.184.215.14/logo.png?sig=secret") == JPEG
    with pytest.raises(ArtifactError, match="larger than 1024 bytes"):
        await source.fetch("https://93.184.215.14/big.png")
    # A hop to loopback is refused when the connection is made (the egress backend, which this mock transport
    # replaces): tests/security/test_ssrf.py follows real redirects. The hop's scheme is checked here.
    with pytest.raises(ArtifactError, match="the URL is not allowed") as blocked:
        await source.fetch("https://93.184.215.14/hop.png?sig=secret")
    assert "secret" not in str(blocked.value).replace("secret.png", "")
    with pytest.raises(ArtifactError, match="could not be fetched \\(HTTP 404\\)"):
        await source.fetch("https://93.184.215.14/gone.png")


async def test_memory_source_is_the_fake() -> None:
    source = MemoryArtifactSource({"a": JPEG}, max_bytes=2)
    with pytest.raises(ArtifactError, match="larger than 2 bytes"):
        await source.fetch("a")
    assert source.fetched == ["a"]
