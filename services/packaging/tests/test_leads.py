"""Lead registration against real local servers: an HTTP endpoint (aiohttp) and, when given, PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from offerflow_contract.events import PackagingFailed, PackagingPassed, PackagingProgressed
from offerflow_packaging import lead_rules
from offerflow_packaging.adapters.lead_http import HttpsEndpointSender, SalesforceSender, TargetGuard
from offerflow_packaging.adapters.lead_table import TableSender
from offerflow_packaging.adapters.leads import LeadRouter, MemoryLeadSender
from offerflow_packaging.adapters.pages import MemoryPageStore
from offerflow_shared.offer import MARKETPLACE
from offerflow_shared.urls import redact as redact_url
from tests.egress_net import name_local, named_policy


class Endpoint:
    """A local lead endpoint; ``status`` and ``delay`` shape its answer."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 200
        self.delay = 0.0
        self.server: TestServer | None = None

    async def handle(self, request: web.Request) -> web.Response:
        if request.content_type == "application/json":
            body: dict[str, Any] = await request.json()
        else:
            body = dict(await request.post())
        self.received.append({"path": request.path, "query": dict(request.query), "body": body,
                              "headers": dict(request.headers)})
        await asyncio.sleep(self.delay)
        return web.Response(status=self.status, text="ok")

    def url(self, path: str = "/leads") -> str:
        assert self.server is not None
        return str(self.server.make_url(path))


@pytest.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    ep = Endpoint()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", ep.handle)
    ep.server = TestServer(app, host="127.0.0.1")
    await ep.server.start_server()
    name_local(ep.url())
    try:
        yield ep
    finally:
        await ep.server.close()


def definition(destination: str, **config: Any) -> dict[str, Any]:
    return {"offer": {MARKETPLACE + "title": "Contoso Web Server", MARKETPLACE + "leadDestination": destination,
                      MARKETPLACE + "leadConfiguration": config}}


def router(named: bool = True, timeout: float = 5.0) -> LeadRouter:
    """The test servers named as egress exceptions (``named``), or the production policy (none named)."""
    guard = TargetGuard(named_policy(named))
    return LeadRouter(
        {
            lead_rules.HTTPS: HttpsEndpointSender(guard, timeout),
            lead_rules.SALESFORCE: SalesforceSender(guard, "https://crm.invalid/", timeout),
            lead_rules.TABLE: TableSender(guard, timeout),
        },
        timeout=timeout,
    )


async def test_https_endpoint_gets_the_documented_payload(endpoint: Endpoint) -> None:
    check = await router().send_test_lead("run-1", "contoso", "web", definition(
        "HttpsEndpoint", httpsEndpointUrl=endpoint.url()))
    assert check.status == "sent", check.message
    (got,) = endpoint.received
    body = got["body"]
    assert set(body) == {"OfferTitle", "LeadSource", "ActionCode", "UserDetails"}
    assert body["OfferTitle"] == "Contoso Web Server"
    assert body["LeadSource"] == "AzureMarketplace-INS | Contoso Web Server"
    assert body["ActionCode"] == "INS"
    assert set(body["UserDetails"]) == {"Company", "Country", "Email", "FirstName", "LastName", "Phone", "Title"}
    assert body["UserDetails"]["Email"].endswith("@example.com")
    # Deterministic per run: a redelivery sends the same person, another run another lead id.
    again = lead_rules.make_test_lead("run-1", "contoso", "web", definition("x"))
    assert got["headers"]["X-Offerflow-Lead-Id"] == again.lead_id
    assert lead_rules.make_test_lead("run-2", "contoso", "web", definition("x")).lead_id != again.lead_id


async def test_refusal_names_the_fix_and_never_the_secret(endpoint: Endpoint) -> None:
    endpoint.status = 403
    url = endpoint.url("/hook").replace("http://", "http://user:hunter2@") + "?sig=TOPSECRET&sv=1"
    check = await router().send_test_lead("run-1", "contoso", "web", definition("httpsEndpoint", httpsEndpointUrl=url))
    assert check.status == "failed"
    assert "HTTP 403" in check.message and "/hook" in check.message
    assert "TOPSECRET" not in check.message and "hunter2" not in check.message
    assert endpoint.received[0]["query"] == {"sig": "TOPSECRET", "sv": "1"}  # the real URL was used


async def test_a_hanging_endpoint_fails_within_the_timeout(endpoint: Endpoint) -> None:
    endpoint.delay = 5
    started = asyncio.get_running_loop().time()
    check = await router(timeout=0.3).send_test_lead(
        "run-1", "contoso", "web", definition("HttpsEndpoint", httpsEndpointUrl=endpoint.url()))
    assert asyncio.get_running_loop().time() - started < 3
    assert check.status == "failed"
    assert "did not accept the test lead within 0.3 s" in check.message


async def test_unreachable_endpoint_and_missing_settings_fail_clearly() -> None:
    name_local("http://127.0.0.1:9/")  # allowed, but nothing listens: a network failure, never which one
    check = await router().send_test_lead("r", "c", "o", definition("HttpsEndpoint", httpsEndpointUrl=
                                                                       "http://127.0.0.1:9/leads"))
    assert check.status == "failed" and check.message.endswith("http://127.0.0.1:9/leads could not be fetched")
    check = await router().send_test_lead("r", "c", "o", definition("HttpsEndpoint"))
    assert check.status == "failed" and "leadConfiguration.httpsEndpointUrl is missing" in check.message
    check = await router().send_test_lead("r", "c", "o", definition("SalesForce"))
    assert "leadConfiguration.salesForceOid is missing" in check.message


async def test_salesforce_web_to_lead_form(endpoint: Endpoint) -> None:
    url = endpoint.url("/servlet/servlet.WebToLead") + "?encoding=UTF-8"
    check = await router().send_test_lead("run-1", "contoso", "web", definition(
        "SalesForce", salesForceOid="00D000000000001", salesForceUrl=url))
    assert check.status == "sent", check.message
    body = endpoint.received[0]["body"]
    assert body["oid"] == "00D000000000001"
    assert body["lead_source"] == "AzureMarketplace-INS | Contoso Web Server"
    assert {"first_name", "last_name", "email", "company"} <= set(body)


async def test_private_targets_are_refused_when_not_allowed(endpoint: Endpoint) -> None:
    strict = router(named=False)
    check = await strict.send_test_lead("r", "c", "o", definition("HttpsEndpoint", httpsEndpointUrl=endpoint.url()))
    assert check.status == "failed" and "the URL is not allowed" in check.message
    https_local = endpoint.url().replace("http://", "https://")
    check = await strict.send_test_lead("r", "c", "o", definition("HttpsEndpoint", httpsEndpointUrl=https_local))
    assert check.status == "failed" and "the URL is not allowed" in check.message
    check = await strict.send_test_lead("r", "c", "o", definition(
        "Table", tableConnectionString="postgresql://u:pw@10.1.2.3:5432/crm"))
    assert check.status == "failed" and "the URL is not allowed" in check.message and "pw" not in check.message
    assert endpoint.received == []
    # The embedded default allows them.
    check = await router().send_test_lead("r", "c", "o", definition("HttpsEndpoint", httpsEndpointUrl=endpoint.url()))
    assert check.status == "sent"


def test_address_classification_and_redaction() -> None:
    for private in ("127.0.0.1", "10.0.0.1", "192.168.1.1", "169.254.169.254", "::1", "fd00::1", "100.64.0.1",
                    "0.0.0.0", "::ffff:127.0.0.1", "224.0.0.1"):
        assert not lead_rules.is_public_address(private), private
    assert lead_rules.is_public_address("8.8.8.8") and lead_rules.is_public_address("2001:4860:4860::8888")
    assert redact_url("https://a:b@h.example:8443/p/q?sig=x#f") == "https://h.example:8443/p/q"
    assert lead_rules.destination(definition("None")) is None
    assert lead_rules.destination(definition("azureTable")) == lead_rules.TABLE


async def test_failed_lead_fails_the_step_and_writes_no_preview(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore
) -> None:
    leads = LeadRouter({lead_rules.HTTPS: MemoryLeadSender(refuse="https://crm.example/x refused (HTTP 500)")})
    dispatcher, sink = make_dispatcher(pages, leads)
    await dispatcher.process(kit.incoming(kit.staging_passed(leadDestination="HttpsEndpoint")))
    failed = sink.events()[-1]
    assert isinstance(failed, PackagingFailed)
    assert failed.reasons[0].code == "lead-registration-failed"
    assert "HTTP 500" in failed.summary
    assert pages.files == {}


async def test_sent_lead_is_reported_in_progress(
    kit: ModuleType, make_dispatcher: Any, pages: MemoryPageStore
) -> None:
    sender = MemoryLeadSender()
    dispatcher, sink = make_dispatcher(pages, LeadRouter({lead_rules.HTTPS: sender}))
    await dispatcher.process(kit.incoming(kit.staging_passed(
        leadDestination="HttpsEndpoint", leadConfiguration={"httpsEndpointUrl": "https://crm.example/in"})))
    events = sink.events()
    assert isinstance(events[-2], PackagingPassed) and events[-2].warnings == []
    lead_progress = [e for e in events if isinstance(e, PackagingProgressed) and e.percentage == 75]
    assert "test lead sent" in lead_progress[0].message
    (lead, config), = sender.sent
    assert config == {"httpsEndpointUrl": "https://crm.example/in"}
    assert lead.lead_source == "AzureMarketplace-INS | Contoso Web Server"


@pytest.mark.integration
@pytest.mark.skipif(not os.environ.get("OFFERFLOW_DATABASE_DSN"), reason="needs OFFERFLOW_DATABASE_DSN")
async def test_table_destination_creates_the_table_and_inserts_once() -> None:
    # The database's owner: it may create the schema and the sender's table in it (the services' role may not).
    dsn = os.environ.get("OFFERFLOW_DATABASE_MIGRATION_DSN") or os.environ["OFFERFLOW_DATABASE_DSN"]
    schema = f"leads_{uuid.uuid4().hex[:8]}"
    # Here the test cluster stands in for the publisher's own database, so it is named as an egress exception;
    # a policy built from the services' settings always refuses the platform's database (tests/security/test_ssrf.py).
    name_local(dsn)
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in dsn else "?"
        scoped = f"{dsn}{sep}search_path={schema}"
        config = definition("AzureTable", tableConnectionString=scoped)
        for _ in range(2):  # a redelivery inserts nothing new
            check = await router().send_test_lead("run-7", "contoso", "web", config)
            assert check.status == "sent", check.message
        rows = await admin.fetch(f"SELECT * FROM {schema}.leads")
        assert len(rows) == 1
        assert rows[0]["lead_source"] == "AzureMarketplace-INS | Contoso Web Server"
        assert rows[0]["email"].endswith("@example.com")

        wrong = scoped.replace("://", "://nobody:wrong-pass-xyz@", 1) if "@" not in scoped else None
        if wrong is None:
            user_part = scoped.split("://", 1)[1].split("@", 1)[0]
            wrong = scoped.replace(user_part + "@", "nobody:wrong-pass-xyz@", 1)
        check = await router().send_test_lead("run-8", "contoso", "web", definition(
            "Table", tableConnectionString=wrong))
        assert check.status == "failed" and "wrong-pass-xyz" not in check.message
        assert "refused the connection" in check.message
    finally:
        await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await admin.close()


async def test_the_destinations_own_configuration_object_and_model_spellings(endpoint: Endpoint) -> None:
    doc = {"offer": {MARKETPLACE + "title": "T", MARKETPLACE + "leadDestination": "salesforce",
                     MARKETPLACE + "salesForceLeadConfiguration": {"objectIdentifier": "00D000000000002",
                                                                   "salesForceUrl": endpoint.url()},
                     MARKETPLACE + "leadConfiguration": {"salesForceOid": "ignored"}}}
    check = await router().send_test_lead("r", "c", "o", doc)
    assert check.status == "sent", check.message
    assert endpoint.received[0]["body"]["oid"] == "00D000000000002"
