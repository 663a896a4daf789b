"""Lead senders into CRMs with OAuth: Dynamics 365 (Web API) and Marketo (REST).

Dynamics: a token from the Microsoft identity platform (``{authority}/{tenant}/oauth2/v2.0/token``) with the
offer's Azure AD application (client credentials, tenant = ``directoryId``) or its Office 365 user (password
grant, tenant ``organizations``, the configured public client id), scope ``{instance}/.default``; then
``POST {instance}/api/data/v9.2/leads``. The record carries a ``leadid`` derived from the lead id, so a
redelivery is answered "duplicate record" and counts as delivered.

Marketo: ``GET {base}/identity/oauth/token?grant_type=client_credentials`` with the LaunchPoint service's
client id and secret, then ``POST {base}/rest/v1/leads.json`` (createOrUpdate by email, so a redelivery
updates the same lead). ``base`` comes from the ``MARKETO_URL`` template and the offer's Munchkin id.

Only redacted URLs reach messages: no secret, no token, no query string.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from offerflow_packaging import lead_rules
from offerflow_packaging.adapters.lead_http import TargetGuard, refuse_redirect, send_request
from offerflow_packaging.adapters.leads import LeadRefused
from offerflow_packaging.lead_rules import Lead, LeadConfigError
from offerflow_shared.offer_rules.leads import MUNCHKIN
from offerflow_shared.urls import redact as redact_url

DYNAMICS_API = "api/data/v9.2"
DUPLICATE_RECORD = "0x80040237"  # Dataverse's "a record with these key values already exists"
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _said(text: object, limit: int = 160) -> str:
    """A server's own error words, bounded and on one line (they never contain our secrets)."""
    return " ".join(str(text).split())[:limit]


def dynamics_token_request(config: Mapping[str, Any], instance: str, authority: str,
                           public_client_id: str) -> tuple[str, dict[str, str]]:
    """The token URL and form for the offer's authentication type (pure: tested without a server)."""
    auth = config.get("authenticationType") or ("office365" if config.get("userName") else "azureAD")
    scope = f"{instance}/.default"
    if auth == "azureAD":
        tenant = lead_rules.required(dict(config), ("directoryId",), "the Azure AD directory (tenant) id")
        if not _GUID.fullmatch(tenant):
            raise LeadConfigError("leadConfiguration.directoryId must be the directory (tenant) GUID")
        form = {"grant_type": "client_credentials", "scope": scope,
                "client_id": lead_rules.required(dict(config), ("applicationId",), "the application (client) id"),
                "client_secret": lead_rules.required(dict(config), ("applicationKey",), "the application key")}
        return f"{authority}/{tenant}/oauth2/v2.0/token", form
    if auth == "office365":
        form = {"grant_type": "password", "scope": scope, "client_id": public_client_id,
                "username": lead_rules.required(dict(config), ("userName",), "the Office 365 user name"),
                "password": lead_rules.required(dict(config), ("password",), "the Office 365 password")}
        return f"{authority}/organizations/oauth2/v2.0/token", form
    raise LeadConfigError("leadConfiguration.authenticationType must be azureAD or office365")


def instance_root(url: str) -> str:
    """``https://contoso.crm.dynamics.com/main.aspx`` → ``https://contoso.crm.dynamics.com`` (the Web API root)."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}"


class DynamicsSender:
    def __init__(self, guard: TargetGuard, authority: str, public_client_id: str, timeout: float = 10.0,
                 verify: ssl.SSLContext | bool = True) -> None:
        self.guard, self.authority, self.public_client_id = guard, authority.rstrip("/"), public_client_id
        self.timeout, self.verify = timeout, verify

    async def send(self, lead: Lead, config: Mapping[str, Any]) -> str:
        raw = lead_rules.required(dict(config), ("instanceUrl",), "the Dynamics 365 instance URL")
        shown = await self.guard.check_url(raw, "the Dynamics instance URL")
        instance = instance_root(raw)
        token_url, form = dynamics_token_request(config, instance, self.authority, self.public_client_id)
        token_shown = await self.guard.check_url(token_url, "the Microsoft identity platform")
        answer = await send_request("POST", token_url, token_shown, guard=self.guard, seconds=self.timeout,
                                    verify=self.verify, data=form)
        refuse_redirect(answer, token_shown)
        token = _json(answer).get("access_token")
        if answer.status_code != 200 or not isinstance(token, str) or not token:
            why = _json(answer).get("error") or f"HTTP {answer.status_code}"
            fields = ("user name and password" if form["grant_type"] == "password"
                      else "application id, directory id and application key")
            raise LeadRefused(
                f"the Microsoft identity platform refused the Dynamics credentials ({_said(why, 60)}); check the "
                f"{fields} and that the application user exists in the Dynamics instance")
        target = f"{instance}/{DYNAMICS_API}/leads"
        shown = redact_url(target)
        created = await send_request(
            "POST", target, shown, guard=self.guard, seconds=self.timeout, verify=self.verify,
            json=lead.dynamics_lead(),
            headers={"Authorization": f"Bearer {token}", "OData-MaxVersion": "4.0", "OData-Version": "4.0",
                     "Accept": "application/json"})
        if created.status_code in (201, 204):
            return f"{shown} (HTTP {created.status_code})"
        refuse_redirect(created, shown)
        error = _json(created).get("error")
        error = error if isinstance(error, dict) else {}
        if created.status_code == 412 and error.get("code") == DUPLICATE_RECORD:
            return f"{shown} (already stored)"
        said = f": {_said(error.get('message'))}" if error.get("message") else ""
        raise LeadRefused(f"{shown} refused the test lead (HTTP {created.status_code}{said}); the application "
                          "user needs a security role that can create leads")


def marketo_base(template: str, munchkin: str) -> str:
    if not MUNCHKIN.fullmatch(munchkin):
        raise LeadConfigError("leadConfiguration.munchkinId must look like 123-ABC-456")
    return template.replace("{munchkinId}", munchkin).rstrip("/")


class MarketoSender:
    def __init__(self, guard: TargetGuard, url_template: str, timeout: float = 10.0,
                 verify: ssl.SSLContext | bool = True) -> None:
        self.guard, self.template, self.timeout, self.verify = guard, url_template, timeout, verify

    async def send(self, lead: Lead, config: Mapping[str, Any]) -> str:
        c = dict(config)
        munchkin = lead_rules.required(c, ("munchkinId",), "your Munchkin id (Admin > Munchkin)")
        client_id = lead_rules.required(c, ("clientId",), "the client id of a LaunchPoint API service")
        secret = lead_rules.required(c, ("clientSecret",), "the client secret of that LaunchPoint API service")
        base = marketo_base(self.template, munchkin)
        shown_base = await self.guard.check_url(base, "the Marketo REST endpoint")
        token_shown = f"{shown_base}/identity/oauth/token"
        answer = await send_request(
            "GET", f"{base}/identity/oauth/token", token_shown, guard=self.guard, seconds=self.timeout,
            verify=self.verify,
            params={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
        refuse_redirect(answer, token_shown)
        token = _json(answer).get("access_token")
        if answer.status_code != 200 or not isinstance(token, str) or not token:
            why = _json(answer).get("error_description") or _json(answer).get("error") or f"HTTP {answer.status_code}"
            raise LeadRefused(f"{token_shown} refused the client credentials ({_said(why, 80)}); check the client id "
                              "and secret of the LaunchPoint API service and that its user has API access")
        target = f"{base}/rest/v1/leads.json"
        shown = f"{shown_base}/rest/v1/leads.json"
        pushed = await send_request(
            "POST", target, shown, guard=self.guard, seconds=self.timeout, verify=self.verify,
            headers={"Authorization": f"Bearer {token}"},
            json={"action": "createOrUpdate", "lookupField": "email", "input": [lead.marketo_lead()]})
        refuse_redirect(pushed, shown)
        body = _json(pushed)
        if pushed.status_code != 200 or body.get("success") is not True:
            errors = body.get("errors") if isinstance(body.get("errors"), list) else []
            first = errors[0] if errors and isinstance(errors[0], dict) else {}
            why = f"{first.get('code')} {_said(first.get('message'))}" if first else f"HTTP {pushed.status_code}"
            raise LeadRefused(f"{shown} refused the test lead ({why}); the API user needs the right to "
                              "read-write leads")
        results = body.get("result") if isinstance(body.get("result"), list) else []
        status = results[0].get("status") if results and isinstance(results[0], dict) else None
        if status not in ("created", "updated"):
            reasons = results[0].get("reasons") if results and isinstance(results[0], dict) else None
            raise LeadRefused(f"{shown} did not store the test lead (status {status!r}: {_said(reasons)}); check "
                              "the lead fields the instance requires")
        return f"{shown} (lead {status})"
