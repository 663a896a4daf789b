"""The table destination: an Azure Storage connection string → Azure Table, a postgresql:// URL → PostgreSQL.

Azure Table goes through ``lead_azure.AzureTableSender`` (REST, SharedKey). A PostgreSQL connection string
(``postgresql://user:password@host:port/database``) gets a ``leads`` table, created when missing. Either
way the lead id is the key, so a redelivered event inserts nothing twice. The password never appears in
a message: errors name only host, port and database. The host passes the shared egress policy (the platform's
own database and brokers are refused even where loopback endpoints are named) and the driver connects to
the checked address, not to the name again.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from offerflow_packaging import lead_rules
from offerflow_packaging.adapters.lead_azure import AzureTableSender
from offerflow_packaging.adapters.lead_http import TargetGuard
from offerflow_packaging.adapters.leads import LeadRefused
from offerflow_packaging.lead_rules import Lead, LeadConfigError
from offerflow_shared.egress_policy import NOT_FETCHED
from offerflow_shared.offer_rules.connection_strings import is_postgres_url

CREATE = """
CREATE TABLE IF NOT EXISTS leads (
    lead_id      text PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT now(),
    offer_title  text NOT NULL,
    lead_source  text NOT NULL,
    action_code  text,
    company      text,
    country      text,
    email        text,
    first_name   text,
    last_name    text,
    phone        text,
    title        text
)
"""
INSERT = """
INSERT INTO leads (lead_id, offer_title, lead_source, action_code, company, country, email, first_name,
                   last_name, phone, title)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (lead_id) DO NOTHING
"""


def describe(dsn: str) -> tuple[str, int, str]:
    """host, port, database of a PostgreSQL URL, or LeadConfigError saying what form is expected."""
    try:
        parts = urlsplit(dsn)
        port = parts.port or 5432
    except ValueError as exc:
        raise LeadConfigError("leadConfiguration.tableConnectionString is not a valid connection URL") from exc
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
        raise LeadConfigError(
            "leadConfiguration.tableConnectionString must be a PostgreSQL connection string "
            "(postgresql://user:password@host:port/database)"
        )
    return parts.hostname, port, parts.path.lstrip("/") or "(default database)"


class TableSender:
    def __init__(self, guard: TargetGuard, timeout: float = 10.0, verify: ssl.SSLContext | bool = True) -> None:
        self.guard = guard
        self.timeout = timeout
        self.azure = AzureTableSender(guard, timeout, verify)

    async def send(self, lead: Lead, config: Mapping[str, Any]) -> str:
        dsn = lead_rules.required(
            dict(config), ("tableConnectionString", "connectionString"),
            "the storage account connection string (or a postgresql:// URL)",
        )
        if not is_postgres_url(dsn):
            return await self.azure.send(lead, {**config, "connectionString": dsn})
        host, port, database = describe(dsn)
        shown = f"postgresql://{host}:{port}/{database} (table leads)"
        addresses = await self.guard.check_host(host, port, shown)
        try:
            # The checked address overrides the DSN's host: no second lookup between check and connect.
            conn = await asyncpg.connect(dsn, host=addresses[0], port=port, timeout=self.timeout)
        except asyncpg.PostgresError as exc:  # the server answered (a public one: the policy checked it)
            raise LeadRefused(f"the lead database {shown} refused the connection: {_safe(exc, dsn)}") from exc
        except (OSError, asyncpg.InterfaceError) as exc:
            raise LeadRefused(f"the lead database {shown} {NOT_FETCHED}") from exc
        try:
            await conn.execute(CREATE)
            await conn.execute(
                INSERT,
                lead.lead_id,
                lead.offer_title,
                lead.lead_source,
                lead.action_code,
                lead.company,
                lead.country,
                lead.email,
                lead.first_name,
                lead.last_name,
                lead.phone,
                lead.title,
            )
        except asyncpg.PostgresError as exc:
            raise LeadRefused(
                f"the lead database {shown} refused the test lead: {_safe(exc, dsn)}; the user needs the right "
                "to create and insert into the leads table"
            ) from exc
        finally:
            await conn.close()
        return shown


def _safe(exc: BaseException, dsn: str) -> str:
    """The error's text with the connection string's password (if any) masked, whatever the driver echoes."""
    message = str(exc) or type(exc).__name__
    try:
        password = urlsplit(dsn).password
    except ValueError:
        password = None
    if password:
        message = message.replace(password, "***")
    return message.replace(dsn, "<connection string>")[:300]
