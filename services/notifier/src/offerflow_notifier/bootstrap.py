"""Composition root: settings → adapters → ``Deps`` → the shared worker runtime. Nothing runs at import."""

from __future__ import annotations

import logging
from pathlib import Path

import faust

from offerflow_contract import topics
from offerflow_notifier import handlers
from offerflow_notifier.adapters.ledger import Ledger
from offerflow_notifier.adapters.mailer import SmtpMailer
from offerflow_notifier.adapters.pg_ledger import PostgresLedger
from offerflow_notifier.delivery import Notifier, mail_retry
from offerflow_notifier.settings import Settings
from offerflow_shared import db, service

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger("offerflow.notifier")

SPEC = service.ServiceSpec(
    name="notifier",
    consumes=(
        topics.PUBLISHING.name,
        topics.VALIDATION.name,
        topics.CERTIFICATION.name,
        topics.PROVISIONING.name,
        topics.STAGING.name,
        topics.PACKAGING.name,
    ),
    emits=topics.NOTIFICATIONS.name,
)


def build_notifier(settings: Settings, ledger: Ledger) -> Notifier:
    mailer = SmtpMailer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        tls=settings.smtp_tls,
        username=settings.smtp_username,
        password=settings.smtp_password,
        timeout=settings.smtp_timeout,
    )
    retry = mail_retry(settings.smtp_attempts, settings.smtp_retry_delay, settings.smtp_retry_max_delay)
    return Notifier(mailer=mailer, ledger=ledger, sender=settings.sender,
                    public_url=settings.common.public_url, support_address=settings.support_address, retry=retry)


def build(settings: Settings) -> faust.App:
    deps: service.Late[handlers.Deps] = service.Late("the mail ledger")

    async def on_start() -> None:
        # The pool belongs to the worker's event loop, so it is made here and not at build time.
        pool = await db.open_migrated(settings.common.database_dsn, SPEC.name, MIGRATIONS,
                                      migration_dsn=settings.common.database_migration_dsn)
        notifier = deps.bind(build_notifier(settings, PostgresLedger(pool)))
        log.info("sending mail through %r as %s", notifier.mailer, settings.sender)

    return service.build(SPEC, handlers.HANDLERS, settings, deps, on_start=on_start).app


def main() -> None:
    service.main(SPEC, Settings, build)
