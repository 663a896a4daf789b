"""Pure decisions of lead registration: which destination, the test lead's content, what may be shown. No I/O.

The test lead is generated from the run id, so a redelivered event sends the very same lead (same id,
same person) and a table destination can ignore the repeat.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from offerflow_packaging.sanitize import text
from offerflow_shared import egress_policy
from offerflow_shared.offer import MARKETPLACE, marketplace
from offerflow_shared.offer_model import GENERIC_LEAD_CONFIG_KEY, LEAD_CONFIG_KEYS, LEAD_DESTINATIONS

# The offer model's canonical destination names (``offerflow_shared.offer_model.LEAD_DESTINATIONS`` maps
# every accepted spelling to one of them), so packaging and validation agree on what a destination is.
HTTPS = "HttpsEndpoint"
SALESFORCE = "SalesForce"
TABLE = "AzureTable"
BLOB = "AzureBlob"
DYNAMICS = "Dynamics"
MARKETO = "Marketo"
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
            "description": self.description(),
        }

    def description(self) -> str:
        return f"Test lead {self.lead_id} sent by Offerflow when the offer was packaged."

    def table_entity(self) -> dict[str, str]:
        """An Azure Table entity: one partition per source, the lead id as row key (a repeat is a conflict)."""
        return {"PartitionKey": SOURCE, "RowKey": self.lead_id, "LeadId": self.lead_id,
                "OfferTitle": self.offer_title, "LeadSource": self.lead_source, "ActionCode": self.action_code,
                "Company": self.company, "Country": self.country, "Email": self.email,
                "FirstName": self.first_name, "LastName": self.last_name, "Phone": self.phone, "Title": self.title,
                "Description": self.description()}

    def blob_document(self) -> dict[str, Any]:
        """The JSON document stored as ``<lead id>.json``: the HTTPS payload plus the lead id."""
        return {"LeadId": self.lead_id, **self.https_payload()}

    def dynamics_lead(self) -> dict[str, str]:
        """A Dynamics 365 ``lead`` record (Web API attribute names); ``leadid`` makes a repeat a duplicate."""
        return {"leadid": str(uuid.UUID(self.lead_id)), "subject": self.lead_source, "firstname": self.first_name,
                "lastname": self.last_name, "emailaddress1": self.email, "companyname": self.company,
                "jobtitle": self.title, "telephone1": self.phone, "address1_country": self.country,
                "description": self.description()}

    def marketo_lead(self) -> dict[str, str]:
        """A Marketo lead (REST field names); createOrUpdate by email makes a repeat an update."""
        return {"email": self.email, "firstName": self.first_name, "lastName": self.last_name,
                "company": self.company, "country": self.country, "phone": self.phone, "title": self.title,
                "leadSource": self.lead_source}


def destination(definition: dict[str, Any]) -> str | None:
    """The canonical destination name, the raw name if it is not one we know, or None when none is set."""
    wanted = marketplace(definition, "leadDestination") or definition.get("leadDestination")
    if not isinstance(wanted, str) or wanted.strip().lower() in ("", "none"):
        return None
    return LEAD_DESTINATIONS.get(wanted.strip().lower(), wanted.strip()[:40])


def configuration(definition: dict[str, Any], kind: str | None = None) -> dict[str, Any]:
    """The destination's own configuration object if set, else the generic ``leadConfiguration``."""
    own = LEAD_CONFIG_KEYS.get(kind or "")
    for name in (own, GENERIC_LEAD_CONFIG_KEY):
        if name is None:
            continue
        short = name.removeprefix(MARKETPLACE)
        value = marketplace(definition, short) or definition.get(short)
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


def is_public_address(address: str) -> bool:
    """Only globally routable unicast addresses; loopback, private, link-local, CGNAT, … are not."""
    return egress_policy.is_public_address(address)
