"""Each outbound fetcher against a real endpoint on 127.0.0.1: refused when private targets are not
allowed (production), reached when they are (the embedded dev stack). The adapters are called directly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from offerflow_certification.adapters.source import ImageIntake
from offerflow_certification.image.findings import ImageError
from offerflow_packaging import lead_rules
from offerflow_packaging.adapters.lead_http import HttpsEndpointSender, SalesforceSender, TargetGuard
from offerflow_packaging.adapters.leads import LeadRouter
from offerflow_shared import netguard
from offerflow_shared.offer import MARKETPLACE
from offerflow_shared.sources import UrlDiskSource
from offerflow_validation.adapters.artifacts import ArtifactError, HttpFetcher

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


class Local:
    def __init__(self) -> None:
        self.hits: list[str] = []
        self.server: TestServer | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(f"{request.method} {request.path}")
        if request.path == "/bounce":
            raise web.HTTPFound(self.url("/logo.png"))
        return web.Response(body=PNG)

    def url(self, path: str = "/logo.png") -> str:
        assert self.server is not None
        return str(self.server.make_url(path))


@pytest.fixture
async def local() -> AsyncIterator[Local]:
    ep = Local()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", ep.handle)
    ep.server = TestServer(app, host="127.0.0.1")
    await ep.server.start_server()
    try:
        yield ep
    finally:
        await ep.server.close()


async def test_validation_artifact_fetcher(local: Local) -> None:
    async with httpx.AsyncClient() as client:
        strict = HttpFetcher(client, allow_private=False)
        for url in (local.url(), local.url("/x?sig=SECRET").replace("127.0.0.1", "localhost")):
            with pytest.raises(ArtifactError) as err:
                await strict.fetch(url)
            assert "non-public" in str(err.value) and "SECRET" not in str(err.value)
        assert local.hits == []
        assert await HttpFetcher(client, allow_private=True).fetch(local.url()) == PNG
        assert await HttpFetcher(client, allow_private=True).fetch(local.url("/bounce")) == PNG
    assert local.hits == ["GET /logo.png", "GET /bounce", "GET /logo.png"]


async def test_validation_refuses_a_public_url_redirecting_inward(local: Local,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx must not follow the redirect itself: the second hop is checked like the first."""
    real_resolve = netguard.resolve

    async def resolve(host: str, port: int) -> set[str]:
        return {"93.184.216.34"} if host == "cdn.example" else await real_resolve(host, port)

    def transport(request: httpx.Request) -> httpx.Response:
        assert request.url.host == "cdn.example"
        return httpx.Response(302, headers={"Location": local.url()})

    monkeypatch.setattr(netguard, "resolve", resolve)
    async with httpx.AsyncClient(transport=httpx.MockTransport(transport)) as client:
        with pytest.raises(ArtifactError, match="non-public"):
            await HttpFetcher(client, allow_private=False).fetch("https://cdn.example/logo.png")
    assert local.hits == []


def _intake(tmp_path: Path, *, max_bytes: int, allow_private: bool) -> ImageIntake:
    source = UrlDiskSource(max_bytes=max_bytes, chunk_bytes=4096, allow_private=allow_private)
    return ImageIntake(source, chunk_bytes=4096, spool_dir=tmp_path)


async def test_certification_image_intake(local: Local, tmp_path: Path) -> None:
    strict = _intake(tmp_path, max_bytes=1 << 20, allow_private=False)
    for url in (local.url("/os.vhd"), local.url("/bounce")):
        with pytest.raises(ImageError, match="not allowed"):  # plain http, and loopback
            async with strict.fetch(url):
                pass
    assert local.hits == []
    relaxed = _intake(tmp_path, max_bytes=1 << 20, allow_private=True)
    async with relaxed.fetch(local.url("/bounce")) as image:
        assert image.size == len(PNG) and image.path.read_bytes() == PNG
    assert local.hits == ["GET /bounce", "GET /logo.png"]
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240 - the spool file is gone


async def test_certification_refuses_an_image_over_the_size_limit(local: Local, tmp_path: Path) -> None:
    small = _intake(tmp_path, max_bytes=16, allow_private=True)
    with pytest.raises(ImageError, match="over the limit of 16"):
        async with small.fetch(local.url()):
            pass


def _lead_router(allow_private: bool) -> LeadRouter:
    guard = TargetGuard(allow_private)
    return LeadRouter({lead_rules.HTTPS: HttpsEndpointSender(guard, 5.0),
                       lead_rules.SALESFORCE: SalesforceSender(guard, "https://crm.invalid/", 5.0)}, timeout=5.0)


def _definition(destination: str, **config: str) -> dict[str, object]:
    return {"offer": {MARKETPLACE + "title": "T", MARKETPLACE + "leadDestination": destination,
                      MARKETPLACE + "leadConfiguration": config}}


async def test_packaging_lead_senders(local: Local) -> None:
    https_local = local.url("/leads").replace("http://", "https://")
    for definition in (_definition("HttpsEndpoint", httpsEndpointUrl=https_local),
                       _definition("SalesForce", salesForceOid="00D1", salesForceUrl=https_local),
                       _definition("HttpsEndpoint", httpsEndpointUrl="https://169.254.169.254/latest/")):
        check = await _lead_router(False).send_test_lead("r", "c", "o", definition)
        assert check.status == "failed" and "non-public" in check.message, check.message
    assert local.hits == []
    check = await _lead_router(True).send_test_lead(
        "r", "c", "o", _definition("HttpsEndpoint", httpsEndpointUrl=local.url("/leads")))
    assert check.status == "sent", check.message
    assert local.hits == ["POST /leads"]


def test_the_setting_exists_in_every_fetching_service(monkeypatch: pytest.MonkeyPatch) -> None:
    from offerflow_certification.settings import Settings as Cert
    from offerflow_packaging.settings import Settings as Pack
    from offerflow_validation.settings import Settings as Val

    for prefix, settings in (("VALIDATION", Val), ("CERTIFICATION", Cert), ("PACKAGING", Pack)):
        assert settings().allow_private_targets is True  # the embedded dev stack serves from 127.0.0.1
        monkeypatch.setenv(f"OFFERFLOW_{prefix}_ALLOW_PRIVATE_TARGETS", "false")
        assert settings().allow_private_targets is False
