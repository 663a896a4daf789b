"""Composition root: settings → adapters → handlers → dispatcher → Faust app. Nothing runs at import."""

from __future__ import annotations

import logging
from pathlib import Path

import faust

from offerflow_notifier import agents, app, handlers
from offerflow_notifier.adapters.ledger import LateLedger
from offerflow_notifier.adapters.mailer import SmtpMailer
from offerflow_notifier.adapters.pg_ledger import PostgresLedger
from offerflow_notifier.delivery import MailRetry, Notifier
from offerflow_notifier.settings import Settings
from offerflow_shared import db, logs
from offerflow_shared.runtime import Dispatcher, Sink
from offerflow_shared.worker import FaustSink, run

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger("offerflow.notifier")


def build_notifier(settings: Settings, ledger: LateLedger) -> Notifier:
    mailer = SmtpMailer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        tls=settings.smtp_tls,
        username=settings.smtp_username,
        password=settings.smtp_password,
        timeout=settings.smtp_timeout,
    )
    retry = MailRetry(settings.smtp_attempts, settings.smtp_retry_delay, settings.smtp_retry_max_delay)
    return Notifier(mailer=mailer, ledger=ledger, sender=settings.sender,
                    public_url=settings.common.public_url, retry=retry)


def build_dispatcher(notifier: Notifier, sink: Sink) -> Dispatcher:
    return Dispatcher(service=app.SERVICE, out_topic=app.EMITS, handlers=handlers.build_handlers(notifier),
                      sink=sink)


def build(settings: Settings) -> faust.App:
    faust_app = app.make_app(settings)
    ledger = LateLedger()
    notifier = build_notifier(settings, ledger)

    async def on_start() -> None:
        # The pool belongs to the worker's event loop, so it is made here and not at build time.
        ledger.bind(PostgresLedger(await db.open_migrated(settings.common.database_dsn, app.SERVICE, MIGRATIONS)))
        log.info("sending mail through %r as %s", notifier.mailer, settings.sender)

    agents.register(faust_app, build_dispatcher(notifier, FaustSink(faust_app)),
                    concurrency=settings.concurrency, on_start=on_start)
    return faust_app


def main() -> None:
    settings = Settings()
    logs.configure(app.SERVICE, settings.common.log_level)
    run(build(settings), settings.common.log_level.lower())
