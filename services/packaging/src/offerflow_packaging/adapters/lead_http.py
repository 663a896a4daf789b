"""Lead senders over HTTP: the HTTPS endpoint (JSON POST) and Salesforce web-to-lead (form POST).

Every target passes ``TargetGuard`` (the shared ``EgressPolicy``): https:// to public hosts, or an endpoint the
deployment names (plain http:// only there); the platform's own database and brokers never. Requests go
through an ``egress`` client, so the connection is made to the very address that was checked, and a refusal
or a network failure says only "the URL is not allowed" / "could not be fetched": an offer cannot use lead
delivery to map the internal network. Redirects are not followed (a redirect could lead anywhere). Only
redacted URLs reach messages.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import certifi
import httpx

from offerflow_packaging import lead_rules
from offerflow_packaging.adapters.leads import LeadRefused
from offerflow_packaging.lead_rules import Lead
from offerflow_shared import egress
from offerflow_shared.egress_policy import NOT_ALLOWED, NOT_FETCHED, EgressError, EgressPolicy
from offerflow_shared.urls import redact as redact_url


def tls_context(extra_ca_file: Path | None = None) -> ssl.SSLContext:
    """The public roots, plus a private CA when one is configured (an internal CRM, a test endpoint)."""
    context = ssl.create_default_context(cafile=certifi.where())
    if extra_ca_file is not None:
        context.load_verify_locations(cafile=str(extra_ca_file))
    return context


class TargetGuard:
    """The egress policy as lead senders use it: URLs and hosts checked, requests through pinned clients."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy

    async def check_host(self, host: str, port: int, shown: str) -> list[str]:
        """The checked addresses of ``host`` (connect to these, never to the name), or LeadRefused."""
        try:
            return await asyncio.to_thread(self.policy.addresses, host, port)
        except EgressError as exc:
            raise LeadRefused(f"{shown}: {exc.message}") from exc

    async def check_url(self, url: str, what: str) -> str:
        """The redacted URL, once its scheme and host are acceptable (the address is checked on connect)."""
        shown = redact_url(url)
        try:
            egress.check_url(self.policy, url, ("https",))
        except EgressError as exc:
            raise LeadRefused(f"{what} {shown}: {NOT_ALLOWED}") from exc
        return shown


async def send_request(
    method: str, url: str, shown: str, *, guard: TargetGuard, seconds: float, verify: ssl.SSLContext | bool,
    **kwargs: Any
) -> httpx.Response:
    """One request through a checked, pinned connection, no redirects, no proxy from the environment; a
    failure says only "not allowed" or "could not be fetched", never which network error it was."""
    try:
        egress.check_url(guard.policy, url, ("https",))
        async with egress.async_client(guard.policy, timeout=seconds, verify=verify) as client:
            return await client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise TimeoutError(shown) from exc
    except EgressError as exc:
        raise LeadRefused(f"{shown}: {exc.message}") from exc
    except httpx.HTTPError as exc:
        raise LeadRefused(f"{shown} {NOT_FETCHED}") from exc


async def _post(
    url: str, shown: str, *, guard: TargetGuard, seconds: float, verify: ssl.SSLContext | bool, **kwargs: Any
) -> httpx.Response:
    return await send_request("POST", url, shown, guard=guard, seconds=seconds, verify=verify, **kwargs)


def refuse_redirect(response: httpx.Response, shown: str) -> None:
    if 300 <= response.status_code < 400:
        raise LeadRefused(
            f"{shown} answered with a redirect (HTTP {response.status_code}); put the final URL in the lead "
            "configuration"
        )


def _check_answer(response: httpx.Response, shown: str, fix: str) -> None:
    if 200 <= response.status_code < 300:
        return
    refuse_redirect(response, shown)
    raise LeadRefused(f"{shown} refused the test lead (HTTP {response.status_code}); {fix}")


class HttpsEndpointSender:
    """POSTs the documented JSON body to ``leadConfiguration.httpsEndpointUrl``."""

    def __init__(self, guard: TargetGuard, timeout: float = 10.0, verify: ssl.SSLContext | bool = True) -> None:
        self.guard = guard
        self.timeout = timeout
        self.verify = verify

    async def send(self, lead: Lead, config: Mapping[str, Any]) -> str:
        url = lead_rules.required(dict(config), ("httpsEndpointUrl",), "the URL that accepts a POST of each lead")
        shown = await self.guard.check_url(url, "the HTTPS endpoint")
        response = await _post(
            url,
            shown,
            guard=self.guard,
            seconds=self.timeout,
            verify=self.verify,
            json=lead.https_payload(),
            headers={"X-Offerflow-Lead-Id": lead.lead_id},
        )
        _check_answer(
            response,
            shown,
            "check that the endpoint URL is right and accepts a JSON POST of OfferTitle, LeadSource, "
            "ActionCode and UserDetails",
        )
        return f"{shown} (HTTP {response.status_code})"


class SalesforceSender:
    """Posts a web-to-lead form (``oid`` + lead fields) to ``leadConfiguration.salesForceUrl`` or the default."""

    def __init__(
        self, guard: TargetGuard, default_url: str, timeout: float = 10.0, verify: ssl.SSLContext | bool = True
    ) -> None:
        self.guard = guard
        self.default_url = default_url
        self.timeout = timeout
        self.verify = verify

    async def send(self, lead: Lead, config: Mapping[str, Any]) -> str:
        oid = lead_rules.required(
            dict(config), ("salesForceOid", "objectIdentifier"), "your Salesforce organisation id (the web-to-lead oid)"
        )
        url = config.get("salesForceUrl") if isinstance(config.get("salesForceUrl"), str) else None
        target = (url or self.default_url).strip()
        shown = await self.guard.check_url(target, "the Salesforce web-to-lead URL")
        response = await _post(target, shown, guard=self.guard, seconds=self.timeout, verify=self.verify,
                               data=lead.salesforce_form(oid))
        _check_answer(
            response, shown, "check the Salesforce organisation id and that web-to-lead is enabled for it"
        )
        return f"{shown} (HTTP {response.status_code})"
