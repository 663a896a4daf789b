"""Pure decisions of lead registration: which destination, the test lead's content, what may be shown. No I/O.

The test lead is generated from the run id, so a redelivered event sends the very same lead (same id,
same person) and a table destination can ignore the repeat.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from offerflow_packaging.sanitize import text
from offerflow_shared import netguard
from offerflow_shared.offer import marketplace

HTTPS = "HttpsEndpoint"
SALESFORCE = "SalesForce"
TABLE = "Table"
# Spellings publishers use for each destination we can deliver to (compared case-insensitively).
_KINDS = {
    "httpsendpoint": HTTPS,
    "https": HTTPS,
    "salesforce": SALESFORCE,
    "table": TABLE,
    "azuretable": TABLE,
}
SOURCE = "AzureMarketplace"
ACTION = "INS"  # the test lead stands for an install, the most common action

_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Dennis")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton")
_COMPANY = ("Fabrikam", "Northwind Traders", "Tailspin Toys", "Wide World Importers", "Woodgrove Bank")
_COUNTRY = ("US", "GB", "DE", "FR", "ES", "JP", "BR", "AU")
_TITLE = ("IT Director", "Cloud Architect", "DevOps Engineer", "CTO", "Procurement Manager")


class LeadConfigError(ValueError):
    """The offer's lead settings cannot work; the message says what to change."""


@dataclass(frozen=True)
class Lead:
    lead_id: str
    offer_title: str
    lead_source: str
    action_code: str
    company: str
    country: str
    email: str
    first_name: str
    last_name: str
    phone: str
    title: str

    def https_payload(self) -> dict[str, Any]:
        """The documented HTTPS endpoint body."""
        return {
            "OfferTitle": self.offer_title,
            "LeadSource": self.lead_source,
            "ActionCode": self.action_code,
            "UserDetails": {
                "Company": self.company,
                "Country": self.country,
                "Email": self.email,
                "FirstName": self.first_name,
                "LastName": self.last_name,
                "Phone": self.phone,
                "Title": self.title,
            },
        }

    def salesforce_form(self, oid: str) -> dict[str, str]:
        """Salesforce web-to-lead field names."""
        return {
            "oid": oid,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "company": self.company,
            "country": self.country,
            "phone": self.phone,
            "title": self.title,
            "lead_source": self.lead_source,
            "description": f"Test lead {self.lead_id} sent by Offerflow when the offer was packaged.",
        }


def destination(definition: dict[str, Any]) -> str | None:
    """The canonical destination name, the raw name if we cannot deliver there, or None when none is set."""
    wanted = marketplace(definition, "leadDestination") or definition.get("leadDestination")
    if not isinstance(wanted, str) or wanted.strip().lower() in ("", "none"):
        return None
    return _KINDS.get(wanted.strip().lower(), wanted.strip()[:40])


# Each destination's own configuration object (the offer model's names); the generic one is the fallback.
_OWN_CONFIG = {
    HTTPS: "httpsEndpointLeadConfiguration",
    SALESFORCE: "salesForceLeadConfiguration",
    TABLE: "tableLeadConfiguration",
}


def configuration(definition: dict[str, Any], kind: str | None = None) -> dict[str, Any]:
    for name in (_OWN_CONFIG.get(kind or ""), "leadConfiguration"):
        if name is None:
            continue
        value = marketplace(definition, name) or definition.get(name)
        if isinstance(value, dict) and value:
            return value
    return {}


def required(config: dict[str, Any], keys: tuple[str, ...], what: str) -> str:
    """The first of ``keys`` that is set (the first name is ours, the others the offer model's spellings)."""
    for key in keys:
        value = config.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    raise LeadConfigError(f"leadConfiguration.{keys[0]} is missing: set it to {what}")


def make_test_lead(run_id: str, publisher: str, offer: str, definition: dict[str, Any]) -> Lead:
    seed = hashlib.sha256(f"offerflow-test-lead/{publisher}/{offer}/{run_id}".encode()).digest()

    def pick(options: tuple[str, ...], i: int) -> str:
        return options[seed[i] % len(options)]

    first, last = pick(_FIRST, 0), pick(_LAST, 1)
    title = text(marketplace(definition, "title"), 50) or offer
    return Lead(
        lead_id=seed[:16].hex(),
        offer_title=title,
        lead_source=lead_source(title),
        action_code=ACTION,
        company=pick(_COMPANY, 2),
        country=pick(_COUNTRY, 3),
        # Reserved documentation domain and number range: the test lead can never reach a real person.
        email=f"{first.lower()}.{last.lower()}@example.com",
        first_name=first,
        last_name=last,
        phone=f"+1-555-01{seed[4] % 100:02d}",
        title=pick(_TITLE, 5),
    )


def lead_source(offer_title: str, action: str = ACTION) -> str:
    """``Source-Action | Offer``."""
    return f"{SOURCE}-{action} | {offer_title}"


def redact_url(url: str) -> str:
    """Scheme, host, port and path only: credentials, query strings (signatures, keys) never leave here."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URL>"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def is_public_address(address: str) -> bool:
    """Only globally routable unicast addresses; loopback, private, link-local, CGNAT, … are not."""
    return netguard.is_public_address(address)
