"""The probes of issue 13 against every outbound fetcher, called directly with the policy the services build:
SSRF in every notation and through redirects, the cloud metadata endpoint, the port scanner (a closed port and
an HTTP 401 read alike), file:// outside the publisher's folder, and the platform database as a lead table.

Local endpoints on 127.0.0.1 stand for the platform's internal network; each test asserts they were never hit.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from offerflow_certification.adapters.source import ImageIntake
from offerflow_certification.image.findings import ImageError
from offerflow_packaging import lead_rules
from offerflow_packaging.adapters.lead_http import HttpsEndpointSender, SalesforceSender, TargetGuard
from offerflow_packaging.adapters.lead_table import TableSender
from offerflow_packaging.adapters.leads import LeadRouter
from offerflow_shared.egress_policy import EgressPolicy
from offerflow_shared.offer import MARKETPLACE
from offerflow_shared.settings import CommonSettings
from offerflow_shared.sources import UrlDiskSource
from offerflow_validation.adapters.artifacts import ArtifactError, reader
from tests.egress_net import PUBLIC_IP, public_net, public_policy

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
SECRET = "sig=SECRET"


class Local:
    """An endpoint on 127.0.0.1: /logo.png, /401 (an admin API), /to?u=<url> (a redirect anywhere)."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.server: TestServer | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(f"{request.method} {request.path}")
        if request.path == "/to":
            raise web.HTTPFound(request.query["u"])
        if request.path == "/401":
            raise web.HTTPUnauthorized()
        return web.Response(body=PNG)

    @property
    def port(self) -> int:
        assert self.server is not None and self.server.port is not None
        return self.server.port

    def url(self, path: str = "/logo.png", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


async def _serve() -> Local:
    ep = Local()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", ep.handle)
    ep.server = TestServer(app, host="127.0.0.1")
    await ep.server.start_server()
    return ep


@pytest.fixture
async def local() -> AsyncIterator[Local]:
    ep = await _serve()
    yield ep
    assert ep.server is not None
    await ep.server.close()


@pytest.fixture
async def inner() -> AsyncIterator[Local]:
    """A second internal endpoint: redirects point at it."""
    ep = await _serve()
    yield ep
    assert ep.server is not None
    await ep.server.close()


def _named(*ports: int) -> EgressPolicy:
    return EgressPolicy(allowed=frozenset(("127.0.0.1", p) for p in ports))


def _said(message: str) -> str:
    """The message without the URL it starts with (which is the publisher's own input)."""
    return re.sub(r"^\S+?:? ", "<url> ", message)


async def _artifact_error(policy: EgressPolicy, url: str, publisher: str = "alice") -> str:
    with pytest.raises(ArtifactError) as err:
        await reader(policy, max_bytes=1 << 20, timeout=5, user_agent="t").fetch(url, publisher)
    assert "SECRET" not in str(err.value)
    return _said(str(err.value))


async def test_logo_urls_in_every_loopback_notation_are_refused_unfetched(local: Local) -> None:
    p = local.port
    for host in ("127.0.0.1", "2130706433", "0x7f000001", "127.1", "0177.0.0.1", "[::1]", "localhost",
                 "[::ffff:127.0.0.1]", "0.0.0.0"):
        said = await _artifact_error(EgressPolicy(), f"http://{host}:{p}/logo.png?{SECRET}")
        assert said == "<url> the URL is not allowed", (host, said)
    assert local.hits == []


async def test_the_cloud_metadata_endpoint_is_refused() -> None:
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/latest/",
                "http://2852039166/latest/", "http://[::ffff:169.254.169.254]/"):
        assert await _artifact_error(EgressPolicy(), url) == "<url> the URL is not allowed"


async def test_a_closed_port_and_an_http_401_read_the_same(local: Local) -> None:
    """The port scanner of the issue: an admin API's 401, a closed port, an open one all say one thing."""
    closed = local.port + 1 if local.port < 65535 else local.port - 1
    said = {await _artifact_error(EgressPolicy(), url) for url in
            (local.url("/401"), f"http://127.0.0.1:{closed}/x", local.url("/logo.png"))}
    assert said == {"<url> the URL is not allowed"}
    intake = ImageIntake(UrlDiskSource(max_bytes=1 << 20, chunk_bytes=4096), chunk_bytes=4096)
    messages = set()
    for url in (local.url("/401").replace("http:", "https:"), f"https://127.0.0.1:{closed}/x.vhd"):
        with pytest.raises(ImageError) as err:
            async with intake.fetch(url, "alice"):
                pass
        messages.add(_said(err.value.message))
    assert messages == {"<url> the URL is not allowed"}
    assert local.hits == []


async def test_a_named_endpoint_answers_like_a_public_one(local: Local) -> None:
    """A named endpoint is reached, so its status is told, exactly as a public server's would be."""
    said = await _artifact_error(_named(local.port), local.url("/401"))
    assert said == "<url> could not be fetched (HTTP 401 (an expired or wrong signature?))"
    data = await reader(_named(local.port), max_bytes=1024, timeout=5, user_agent="t").fetch(local.url())
    assert data == PNG


async def test_a_public_host_redirecting_to_loopback_is_refused(local: Local, inner: Local,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A "public" CDN (the local endpoint behind a public address) answers 302 to an internal endpoint."""
    net = public_net(monkeypatch)
    policy = public_policy({"cdn.example": [PUBLIC_IP]})
    fetcher = reader(policy, max_bytes=1024, timeout=5, user_agent="t")
    assert await fetcher.fetch(f"http://cdn.example:{local.port}/logo.png") == PNG  # the CDN itself is fine
    for target in (inner.url(), inner.url(host="[::1]"), inner.url(host="2130706433"),
                   "http://169.254.169.254/latest/meta-data/"):
        url = f"http://cdn.example:{local.port}/to?u={target}"
        assert await _artifact_error(policy, url) == "<url> the URL is not allowed"
    assert inner.hits == []
    assert {host for host, _ in net.connects} == {PUBLIC_IP}


async def test_dns_rebinding_cannot_turn_the_checked_address_into_loopback(local: Local,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The name answers a public address to the first lookup and loopback to any later one. The one lookup of
    the connection is both checked and connected to; a new connection looks up again and is refused."""
    net = public_net(monkeypatch)
    answers = iter([[PUBLIC_IP], ["127.0.0.1"], ["127.0.0.1"]])
    policy = EgressPolicy(resolver=lambda host, port: next(answers))
    url = f"http://rebind.example:{local.port}/logo.png"
    assert await reader(policy, max_bytes=1024, timeout=5, user_agent="t").fetch(url) == PNG
    assert net.connects == [(PUBLIC_IP, local.port)]  # never 127.0.0.1: no second lookup before connecting
    assert await _artifact_error(policy, url) == "<url> the URL is not allowed"  # a fresh client, a fresh lookup
    assert net.connects == [(PUBLIC_IP, local.port)] and local.hits == ["GET /logo.png"]


async def test_certification_refuses_a_redirect_from_a_named_endpoint_to_another_loopback(
        local: Local, inner: Local, tmp_path: Path) -> None:
    """Certification followed 127.0.0.1 → [::1] in the issue; a named endpoint's redirect is checked too."""
    source = UrlDiskSource(max_bytes=1 << 20, chunk_bytes=4096, policy=_named(local.port))
    intake = ImageIntake(source, chunk_bytes=4096, spool_dir=tmp_path)
    for target in (f"http://[::1]:{local.port}/os.vhd", inner.url("/os.vhd"), f"http://localhost:{local.port}/"):
        with pytest.raises(ImageError, match="the URL is not allowed"):
            async with intake.fetch(local.url(f"/to?u={target}"), "alice"):
                pass
    async with intake.fetch(local.url("/to?u=/logo.png"), "alice") as image:  # a hop on the same endpoint
        assert image.path.read_bytes() == PNG
    assert inner.hits == [] and local.hits.count("GET /logo.png") == 1
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240 - the spool file is gone


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "files" / "alice").mkdir(parents=True)
    (tmp_path / "files" / "bob").mkdir(parents=True)
    (tmp_path / "files" / "alice" / "logo.png").write_bytes(PNG)
    (tmp_path / "files" / "alice" / "os.vhd").write_bytes(b"disk" * 64)
    return tmp_path / "files"


async def test_file_urls_outside_the_publishers_folder_read_alike(files: Path) -> None:
    """``file:///etc/shadow`` and a path that does not exist say the same; another publisher's file is refused."""
    dev = EgressPolicy(file_root=files)
    for policy in (EgressPolicy(), dev):
        said = {await _artifact_error(policy, url, "bob") for url in
                ("file:///etc/shadow", "file:///etc/no-such-file", (files / "alice" / "logo.png").as_uri(),
                 (files / "bob" / ".." / "alice" / "logo.png").as_uri())}
        assert said == {"<url> the URL is not allowed"}
    assert await reader(dev, max_bytes=1024, timeout=5, user_agent="t").fetch(
        (files / "alice" / "logo.png").as_uri(), "alice") == PNG


async def test_publisher_b_cannot_certify_or_provision_publisher_a_s_image(files: Path) -> None:
    image = (files / "alice" / "os.vhd").as_uri()
    source = UrlDiskSource(max_bytes=1 << 20, policy=EgressPolicy(file_root=files))
    intake = ImageIntake(source, chunk_bytes=4096)
    with pytest.raises(ImageError, match="the URL is not allowed"):
        async with intake.fetch(image, "bob"):
            pass
    with pytest.raises(Exception, match="the URL is not allowed"):
        source.open(image, "bob")  # provisioning's read
    async with intake.fetch(image, "alice") as local:
        assert local.path == files / "alice" / "os.vhd" and local.size == 256


def _definition(destination: str, **config: str) -> dict[str, object]:
    key = "tableLeadConfiguration" if destination == "AzureTable" else "leadConfiguration"
    return {"offer": {MARKETPLACE + "title": "T", MARKETPLACE + "leadDestination": destination,
                      MARKETPLACE + key: config}}


def _leads(policy: EgressPolicy) -> LeadRouter:
    guard = TargetGuard(policy)
    return LeadRouter({lead_rules.HTTPS: HttpsEndpointSender(guard, 5.0),
                       lead_rules.SALESFORCE: SalesforceSender(guard, "https://crm.invalid/", 5.0),
                       lead_rules.TABLE: TableSender(guard, 5.0)}, timeout=5.0)


async def test_lead_senders_refuse_internal_targets_alike(local: Local) -> None:
    https_local = local.url("/leads").replace("http://", "https://")
    closed = local.port + 1 if local.port < 65535 else local.port - 1
    messages = set()
    for definition in (_definition("HttpsEndpoint", httpsEndpointUrl=https_local),
                       _definition("HttpsEndpoint", httpsEndpointUrl=f"https://127.0.0.1:{closed}/?{SECRET}"),
                       _definition("HttpsEndpoint", httpsEndpointUrl=f"https://2130706433:{local.port}/"),
                       _definition("SalesForce", salesForceOid="00D1", salesForceUrl=https_local),
                       _definition("HttpsEndpoint", httpsEndpointUrl="https://169.254.169.254/latest/")):
        check = await _leads(EgressPolicy()).send_test_lead("r", "c", "o", definition)
        assert check.status == "failed" and "SECRET" not in check.message, check.message
        messages.add(re.sub(r"https://\S+", "<url>", check.message))
    assert messages == {"Lead generation: <url> the URL is not allowed"}
    assert local.hits == []
    check = await _leads(_named(local.port)).send_test_lead(
        "r", "c", "o", _definition("HttpsEndpoint", httpsEndpointUrl=local.url("/leads")))
    assert check.status == "sent", check.message
    assert local.hits == ["POST /leads"]


async def test_a_lead_table_or_crm_at_the_platform_database_is_refused_even_when_named(local: Local) -> None:
    """The platform's own PostgreSQL (and Kafka) as a lead destination: refused before any connection, even in
    development where loopback endpoints are named (here even the database's own port)."""
    db = f"127.0.0.1:{local.port}"  # a listener, so a connection attempt would be seen
    common = CommonSettings(database_dsn=f"postgresql://offerflow_app:pw@{db}/offerflow",
                            egress_allowed_endpoints=frozenset({db}))
    router = _leads(EgressPolicy.from_settings(common))
    for definition in (
            _definition("AzureTable", tableConnectionString=f"postgresql://postgres:x@{db}/offerflow"),
            _definition("AzureTable", tableConnectionString=f"postgresql://postgres:x@localhost:{local.port}/x"),
            _definition("HttpsEndpoint", httpsEndpointUrl=f"http://{db}/"),
            _definition("AzureTable", tableConnectionString="postgresql://postgres@127.0.0.1:9092/x")):
        check = await router.send_test_lead("r", "c", "o", definition)
        assert check.status == "failed" and "the URL is not allowed" in check.message, check.message
        assert "role" not in check.message and "password" not in check.message
    assert local.hits == []


def test_no_service_has_an_allow_private_switch() -> None:
    from offerflow_certification.settings import Settings as Cert
    from offerflow_packaging.settings import Settings as Pack
    from offerflow_provisioning.settings import Settings as Prov
    from offerflow_validation.settings import Settings as Val

    for settings in (Val, Cert, Pack, Prov):
        assert not [f for f in settings.model_fields if "private" in f or f.startswith("allow_file")]
