"""Lead senders over HTTP: the HTTPS endpoint (JSON POST) and Salesforce web-to-lead (form POST).

Every target passes ``TargetGuard`` first: with ``allow_private_targets`` off, only https:// URLs whose
host resolves to public addresses are contacted, so an offer cannot make packaging probe the internal
network. Redirects are not followed (a redirect could lead anywhere). Only redacted URLs reach messages.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpx

from offerflow_packaging import lead_rules
from offerflow_packaging.adapters.leads import LeadRefused
from offerflow_packaging.lead_rules import Lead
from offerflow_shared import netguard


def tls_context(extra_ca_file: Path | None = None) -> ssl.SSLContext:
    """The public roots, plus a private CA when one is configured (an internal CRM, a test endpoint)."""
    context = ssl.create_default_context(cafile=certifi.where())
    if extra_ca_file is not None:
        context.load_verify_locations(cafile=str(extra_ca_file))
    return context


class TargetGuard:
    def __init__(self, allow_private_targets: bool) -> None:
        self.allow_private = allow_private_targets

    async def check_host(self, host: str, port: int, shown: str) -> None:
        # The one SSRF rule of every service lives in offerflow_shared.netguard.
        try:
            await netguard.check_host(host, port, allow_private=self.allow_private, shown=shown)
        except netguard.BlockedTarget as exc:
            raise LeadRefused(
                f"{exc.reason}; lead destinations must be reachable on the public internet"
            ) from exc

    async def check_url(self, url: str, what: str) -> str:
        """The redacted URL, once it is acceptable."""
        shown = lead_rules.redact_url(url)
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise LeadRefused(f"{what} {shown} is not a valid URL") from exc
        allowed = ("https",) if not self.allow_private else ("https", "http")
        if parts.scheme not in allowed or not parts.hostname:
            raise LeadRefused(f"{what} {shown} must be an {' or '.join(allowed)} URL with a host name")
        await self.check_host(parts.hostname, port or (443 if parts.scheme == "https" else 80), shown)
        return shown


async def send_request(
    method: str, url: str, shown: str, *, seconds: float, verify: ssl.SSLContext | bool, **kwargs: Any
) -> httpx.Response:
    """One request, no redirects, no proxy from the environment; failures never repeat the full URL."""
    try:
        async with httpx.AsyncClient(
            timeout=seconds, follow_redirects=False, trust_env=False, verify=verify
        ) as client:
            return await client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise TimeoutError(shown) from exc
    except httpx.HTTPError as exc:
        # httpx messages can repeat the URL (and its query: keys, signatures): name only the class of failure.
        raise LeadRefused(f"{shown} could not be reached ({type(exc).__name__})") from exc


async def _post(
    url: str, shown: str, *, seconds: float, verify: ssl.SSLContext | bool, **kwargs: Any
) -> httpx.Response:
    return await send_request("POST", url, shown, seconds=seconds, verify=verify, **kwargs)


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
        response = await _post(target, shown, seconds=self.timeout, verify=self.verify, data=lead.salesforce_form(oid))
        _check_answer(
            response, shown, "check the Salesforce organisation id and that web-to-lead is enabled for it"
        )
        return f"{shown} (HTTP {response.status_code})"
