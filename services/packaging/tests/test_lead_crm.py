"""Dynamics 365 and Marketo lead destinations against local servers implementing their documented endpoints.

These servers are test code: the Microsoft identity platform token endpoint and the Dataverse Web API
``leads`` entity set (one server plays both), and Marketo's identity and ``leads.json`` endpoints.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from offerflow_packaging import lead_rules
from offerflow_packaging.adapters.lead_crm import DynamicsSender, MarketoSender, dynamics_token_request, instance_root
from offerflow_packaging.adapters.lead_http import TargetGuard
from offerflow_packaging.adapters.leads import LeadRouter
from offerflow_packaging.lead_rules import LeadConfigError
from offerflow_shared.offer import MARKETPLACE
from tests.egress_net import name_local, named_policy

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP_ID = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
APP_KEY = "app-key-SECRET"
MUNCHKIN = "123-ABC-456"
CLIENT_SECRET = "mkto-SECRET"
PUBLIC_CLIENT = "public-client-id"


class Dynamics:
    """Token endpoint ``/{tenant}/oauth2/v2.0/token`` and Web API ``/api/data/v9.2/leads``."""

    def __init__(self) -> None:
        self.url = ""
        self.token_requests: list[dict[str, str]] = []
        self.lead_requests: list[dict[str, Any]] = []
        self.leads: dict[str, dict[str, Any]] = {}
        self.tokens: set[str] = set()
        self.create_status = 204

    async def token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append({"tenant": request.match_info["tenant"], **form})
        ok_app = (form.get("grant_type") == "client_credentials" and form.get("client_id") == APP_ID
                  and form.get("client_secret") == APP_KEY and request.match_info["tenant"] == TENANT)
        ok_user = (form.get("grant_type") == "password" and form.get("client_id") == PUBLIC_CLIENT
                   and form.get("username") == "ops@contoso.example" and form.get("password") == "pw-SECRET"
                   and request.match_info["tenant"] == "organizations")
        if not (ok_app or ok_user) or form.get("scope") != f"{self.url}/.default":
            return web.json_response({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid "
                                      "client secret provided."}, status=401)
        token = secrets.token_urlsafe(16)
        self.tokens.add(token)
        return web.json_response({"token_type": "Bearer", "expires_in": 3599, "access_token": token})

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.lead_requests.append({"headers": dict(request.headers), "body": body})
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            return web.json_response({"error": {"code": "0x80072560", "message": "The user is not a member of "
                                                "the organization."}}, status=401)
        if self.create_status != 204:
            return web.json_response({"error": {"code": "0x80040220", "message": "Principal user is missing "
                                                "prvCreateLead privilege."}}, status=self.create_status)
        if body["leadid"] in self.leads:
            return web.json_response({"error": {"code": "0x80040237", "message": "A record with matching key "
                                                "values already exists."}}, status=412)
        self.leads[body["leadid"]] = body
        return web.Response(status=204, headers={
            "OData-EntityId": f"{self.url}/api/data/v9.2/leads({body['leadid']})"})


class Marketo:
    """``GET /{munchkin}/identity/oauth/token`` and ``POST /{munchkin}/rest/v1/leads.json``."""

    def __init__(self) -> None:
        self.token_requests: list[dict[str, str]] = []
        self.pushes: list[dict[str, Any]] = []
        self.leads: dict[str, dict[str, Any]] = {}
        self.tokens: set[str] = set()
        self.required_field = ""  # a field the instance requires on every lead (none by default)
        self.expire_tokens = False  # every token is invalid by the time it is used

    async def token(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.token_requests.append({"munchkin": request.match_info["munchkin"], **query})
        if (query.get("grant_type"), query.get("client_id"), query.get("client_secret")) != (
                "client_credentials", "mkto-client", CLIENT_SECRET):
            return web.json_response({"error": "unauthorized", "error_description": "Bad client credentials"},
                                     status=401)
        token = secrets.token_urlsafe(16)
        self.tokens.add(token)
        return web.json_response({"access_token": token, "token_type": "bearer", "expires_in": 3599,
                                  "scope": "api@contoso.example"})

    async def push(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.pushes.append({"munchkin": request.match_info["munchkin"], "headers": dict(request.headers),
                            "body": body})
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.tokens or self.expire_tokens:
            return web.json_response({"requestId": "e42b#1", "success": False,  # Marketo answers 200 here
                                      "errors": [{"code": "601", "message": "Access token invalid"}]})
        result: list[dict[str, Any]] = []
        for lead in body["input"]:
            email = lead.get(body.get("lookupField", "email"))
            if not email or (self.required_field and not lead.get(self.required_field)):
                missing = self.required_field or "email"
                result.append({"status": "skipped", "reasons": [{"code": "1003", "message": f"{missing} missing"}]})
                continue
            result.append({"id": len(self.leads) + 1, "status": "updated" if email in self.leads else "created"})
            self.leads[email] = lead
        return web.json_response({"requestId": "e42b#2", "result": result, "success": True})


async def _serve(app: web.Application) -> TestServer:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


@pytest.fixture
async def dynamics() -> AsyncIterator[Dynamics]:
    crm = Dynamics()
    app = web.Application()
    app.router.add_post("/{tenant}/oauth2/v2.0/token", crm.token)
    app.router.add_post("/api/data/v9.2/leads", crm.create)
    server = await _serve(app)
    crm.url = name_local(str(server.make_url("")).rstrip("/"))
    try:
        yield crm
    finally:
        await server.close()


@pytest.fixture
async def marketo() -> AsyncIterator[tuple[Marketo, str]]:
    mkto = Marketo()
    app = web.Application()
    app.router.add_get("/{munchkin}/identity/oauth/token", mkto.token)
    app.router.add_post("/{munchkin}/rest/v1/leads.json", mkto.push)
    server = await _serve(app)
    try:
        yield mkto, name_local(str(server.make_url("")).rstrip("/")) + "/{munchkinId}"
    finally:
        await server.close()


def definition(destination: str, key: str, **config: Any) -> dict[str, Any]:
    return {"offer": {MARKETPLACE + "title": "Contoso Web Server", MARKETPLACE + "leadDestination": destination,
                      MARKETPLACE + key: config}}


def router(authority: str = "https://login.invalid", marketo_url: str = "https://{munchkinId}.invalid",
           named: bool = True) -> LeadRouter:
    guard = TargetGuard(named_policy(named))
    return LeadRouter({lead_rules.DYNAMICS: DynamicsSender(guard, authority, PUBLIC_CLIENT, 5.0),
                       lead_rules.MARKETO: MarketoSender(guard, marketo_url, 5.0)}, timeout=5.0)


def azure_ad(instance: str, **extra: str) -> dict[str, Any]:
    return definition("Dynamics", "crmLeadConfiguration", authenticationType="azureAD", instanceUrl=instance,
                      applicationId=APP_ID, directoryId=TENANT, applicationKey=APP_KEY, **extra)


# --- request building (pure) ----------------------------------------------------------------------


def test_token_requests_for_both_authentication_types() -> None:
    url, form = dynamics_token_request({"authenticationType": "azureAD", "directoryId": TENANT,
                                        "applicationId": APP_ID, "applicationKey": "k"},
                                       "https://contoso.crm.dynamics.com", "https://login.example", "pub")
    assert url == f"https://login.example/{TENANT}/oauth2/v2.0/token"
    assert form == {"grant_type": "client_credentials", "client_id": APP_ID, "client_secret": "k",
                    "scope": "https://contoso.crm.dynamics.com/.default"}
    url, form = dynamics_token_request({"authenticationType": "office365", "userName": "u", "password": "p"},
                                       "https://c.crm.dynamics.com", "https://login.example", "pub")
    assert url == "https://login.example/organizations/oauth2/v2.0/token"
    assert form["grant_type"] == "password" and form["client_id"] == "pub" and form["username"] == "u"
    with pytest.raises(LeadConfigError, match="directoryId must be the directory"):
        dynamics_token_request({"authenticationType": "azureAD", "directoryId": "../evil", "applicationId": "a",
                                "applicationKey": "k"}, "https://c", "https://l", "pub")
    assert instance_root("https://contoso.crm4.dynamics.com/main.aspx?appid=1") == "https://contoso.crm4.dynamics.com"


def test_the_crm_records_carry_the_lead() -> None:
    lead = lead_rules.make_test_lead("run-1", "contoso", "web", definition("Dynamics", "x"))
    record = lead.dynamics_lead()
    assert record["leadid"].replace("-", "") == lead.lead_id
    assert record["subject"] == "AzureMarketplace-INS | Contoso Web Server" and record["emailaddress1"] == lead.email
    assert lead.marketo_lead()["leadSource"] == record["subject"]


# --- Dynamics -------------------------------------------------------------------------------------


async def test_dynamics_azure_ad_lead_lands_once(dynamics: Dynamics) -> None:
    doc = azure_ad(dynamics.url + "/main.aspx")
    check = await router(dynamics.url).send_test_lead("run-1", "contoso", "web", doc)
    assert check.status == "sent", check.message
    assert check.message.endswith("/api/data/v9.2/leads (HTTP 204).")
    (token_request,) = dynamics.token_requests
    assert token_request["tenant"] == TENANT and token_request["grant_type"] == "client_credentials"
    (request,) = dynamics.lead_requests
    assert request["headers"]["OData-Version"] == "4.0" and request["headers"]["OData-MaxVersion"] == "4.0"
    lead = lead_rules.make_test_lead("run-1", "contoso", "web", doc)
    (stored,) = dynamics.leads.values()
    assert stored["emailaddress1"] == lead.email and stored["companyname"] == lead.company
    assert stored["subject"] == "AzureMarketplace-INS | Contoso Web Server"
    # A redelivery: Dataverse answers "duplicate record", which means the lead is already there.
    again = await router(dynamics.url).send_test_lead("run-1", "contoso", "web", doc)
    assert again.status == "sent" and "already stored" in again.message, again.message
    assert len(dynamics.leads) == 1


async def test_dynamics_office365_user(dynamics: Dynamics) -> None:
    doc = definition("dynamicscrm", "leadConfiguration", authenticationType="office365", instanceUrl=dynamics.url,
                     userName="ops@contoso.example", password="pw-SECRET")
    check = await router(dynamics.url).send_test_lead("run-2", "contoso", "web", doc)
    assert check.status == "sent", check.message
    assert dynamics.token_requests[0]["tenant"] == "organizations"
    assert dynamics.token_requests[0]["client_id"] == PUBLIC_CLIENT and len(dynamics.leads) == 1


async def test_dynamics_refusals_say_what_to_fix_and_never_the_secret(dynamics: Dynamics) -> None:
    bad = azure_ad(dynamics.url)
    bad["offer"][MARKETPLACE + "crmLeadConfiguration"]["applicationKey"] = "wrong-SECRET"
    check = await router(dynamics.url).send_test_lead("r", "c", "o", bad)
    assert check.status == "failed" and "refused the Dynamics credentials (invalid_client)" in check.message
    assert "SECRET" not in check.message and dynamics.lead_requests == []
    dynamics.create_status = 403
    check = await router(dynamics.url).send_test_lead("r", "c", "o", azure_ad(dynamics.url))
    assert check.status == "failed" and "HTTP 403: Principal user is missing prvCreateLead" in check.message
    assert "security role that can create leads" in check.message and dynamics.leads == {}


async def test_dynamics_in_strict_mode_refuses_a_private_instance(dynamics: Dynamics) -> None:
    check = await router(dynamics.url, named=False).send_test_lead("r", "c", "o", azure_ad(dynamics.url))
    assert check.status == "failed" and "the URL is not allowed" in check.message
    assert dynamics.token_requests == []


# --- Marketo --------------------------------------------------------------------------------------


def marketo_doc(**override: str) -> dict[str, Any]:
    config = {"serverId": "app-sj01", "munchkinId": MUNCHKIN, "formId": "1001", "clientId": "mkto-client",
              "clientSecret": CLIENT_SECRET, **override}
    return definition("Marketo", "marketoLeadConfiguration", **config)


async def test_marketo_lead_lands_and_a_redelivery_updates_it(marketo: tuple[Marketo, str]) -> None:
    mkto, template = marketo
    check = await router(marketo_url=template).send_test_lead("run-1", "contoso", "web", marketo_doc())
    assert check.status == "sent" and check.message.endswith("/rest/v1/leads.json (lead created)."), check.message
    assert CLIENT_SECRET not in check.message and "client_secret" not in check.message
    (token_request,) = mkto.token_requests
    assert token_request == {"munchkin": MUNCHKIN, "grant_type": "client_credentials", "client_id": "mkto-client",
                             "client_secret": CLIENT_SECRET}
    (push,) = mkto.pushes
    assert push["munchkin"] == MUNCHKIN and push["headers"]["Authorization"].startswith("Bearer ")
    assert push["body"]["action"] == "createOrUpdate" and push["body"]["lookupField"] == "email"
    lead = lead_rules.make_test_lead("run-1", "contoso", "web", marketo_doc())
    assert mkto.leads == {lead.email: lead.marketo_lead()}
    again = await router(marketo_url=template).send_test_lead("run-1", "contoso", "web", marketo_doc())
    assert again.message.endswith("(lead updated).") and len(mkto.leads) == 1


async def test_marketo_refusals(marketo: tuple[Marketo, str]) -> None:
    mkto, template = marketo
    check = await router(marketo_url=template).send_test_lead("r", "c", "o", marketo_doc(clientSecret="no-SECRET"))
    assert check.status == "failed" and "refused the client credentials (Bad client credentials)" in check.message
    assert "SECRET" not in check.message and mkto.pushes == []
    check = await router(marketo_url=template).send_test_lead("r", "c", "o", marketo_doc(munchkinId="12-AB"))
    assert check.status == "failed" and "munchkinId must look like 123-ABC-456" in check.message
    check = await router(marketo_url=template).send_test_lead("r", "c", "o", marketo_doc(clientId=""))
    assert check.status == "failed" and "leadConfiguration.clientId is missing" in check.message


async def test_marketo_answers_in_the_body_not_the_status(marketo: tuple[Marketo, str]) -> None:
    mkto, template = marketo
    mkto.required_field = "leadScore"
    check = await router(marketo_url=template).send_test_lead("r", "c", "o", marketo_doc())
    assert check.status == "failed" and "status 'skipped'" in check.message and "leadScore missing" in check.message
    mkto.required_field = ""
    mkto.expire_tokens = True
    check = await router(marketo_url=template).send_test_lead("r", "c", "o", marketo_doc())
    assert check.status == "failed" and "(601 Access token invalid)" in check.message, check.message
    assert mkto.leads == {}
