"""The PostgreSQL ledger against a real database (OFFERFLOW_DATABASE_DSN); skipped without one."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from offerflow_contract.codec import encode
from offerflow_contract.envelope import wrap
from offerflow_contract.events import PublishCanceled
from offerflow_notifier import bootstrap, handlers
from offerflow_notifier.adapters.ledger import Claim, MailRecord, MailStatus
from offerflow_notifier.adapters.mailer import SmtpMailer
from offerflow_notifier.adapters.pg_ledger import PostgresLedger
from offerflow_notifier.bootstrap import MIGRATIONS
from offerflow_notifier.delivery import Notifier
from offerflow_notifier.sink import MailSink
from offerflow_shared import db, service
from offerflow_shared.outbox import MemorySink
from offerflow_shared.runtime import Dispatcher, Incoming

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.environ.get("OFFERFLOW_DATABASE_DSN"), reason="needs OFFERFLOW_DATABASE_DSN"),
]


@pytest.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    # The migrations run as the database's owner (with-infra sets its DSN), the ledger as the services' role.
    owner = await asyncpg.connect(os.environ.get("OFFERFLOW_DATABASE_MIGRATION_DSN")
                                  or os.environ["OFFERFLOW_DATABASE_DSN"])
    try:
        await db.migrate(owner, "notifier", MIGRATIONS)
    finally:
        await owner.close()
    pool = await db.create_pool(os.environ["OFFERFLOW_DATABASE_DSN"])
    try:
        yield pool
    finally:
        await pool.close()


def record(recipient: str = "ana@contoso.test") -> MailRecord:
    # A fresh cause id per test: the database may be shared with other runs.
    return MailRecord(cause_event_id=str(uuid.uuid4()), recipient=recipient,
                      cause_event_type="offer.publish_canceled", template="canceled",
                      subject="Publication canceled: contoso-vm",
                      message_id="<x@offerflow.local>", offer_id="contoso-vm", run_id="run-42")


async def row(pool: asyncpg.Pool, rec: MailRecord) -> asyncpg.Record:
    result = await pool.fetchrow(
        "SELECT status, attempts, last_error, sent_at FROM notifier_mail_ledger "
        "WHERE cause_event_id = $1 AND recipient = $2", uuid.UUID(rec.cause_event_id), rec.recipient)
    assert result is not None
    return result


async def test_migrations_are_applied_once(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert await db.migrate(conn, "notifier", MIGRATIONS) == []


async def test_life_of_a_mail(pool: asyncpg.Pool) -> None:
    ledger = PostgresLedger(pool)
    rec = record()
    assert await ledger.claim(rec) is Claim.SEND
    # Committed before the SMTP call: another connection already sees it.
    assert (await row(pool, rec))["status"] == "sending"
    assert await ledger.claim(rec) is Claim.RESEND  # a redelivery after a crash here sends again
    assert (await row(pool, rec))["attempts"] == 2
    await ledger.mark(rec, MailStatus.SENT)
    assert (await row(pool, rec))["sent_at"] is not None
    assert await ledger.claim(rec) is Claim.ANNOUNCE
    await ledger.mark(rec, MailStatus.ANNOUNCED)
    assert await ledger.claim(rec) is Claim.DONE
    assert (await row(pool, rec))["attempts"] == 2


async def test_rejected_is_done_and_keeps_the_reason(pool: asyncpg.Pool) -> None:
    ledger = PostgresLedger(pool)
    rec = record("gone@contoso.test")
    assert await ledger.claim(rec) is Claim.SEND
    await ledger.mark(rec, MailStatus.REJECTED, "550 no such user")
    assert await ledger.claim(rec) is Claim.DONE
    assert (await row(pool, rec))["last_error"] == "550 no such user"


async def test_recipients_of_one_event_are_separate(pool: asyncpg.Pool) -> None:
    ledger = PostgresLedger(pool)
    first = record("ana@contoso.test")
    second = MailRecord(**{**first.__dict__, "recipient": "bo@contoso.test"})
    assert await ledger.claim(first) is Claim.SEND
    assert await ledger.claim(second) is Claim.SEND


async def test_redelivery_through_real_ledger_and_smtp_sends_one_mail(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    sink = MailSink(directory=tmp_path / "mail", smtp_port=0, http_port=0)
    await sink.start()
    try:
        notifier = Notifier(mailer=SmtpMailer(host="127.0.0.1", port=sink.smtp_port, timeout=5),
                            ledger=PostgresLedger(pool), sender="Offerflow <noreply@offerflow.local>",
                            public_url="http://127.0.0.1:8080")
        out = MemorySink()
        dispatcher = Dispatcher(service=bootstrap.SPEC.name, out_topic=bootstrap.SPEC.emits,
                                handlers=service.bind(handlers.HANDLERS, notifier), sink=out)
        env = wrap(PublishCanceled(notification_emails=["ana@contoso.test"]), offer_id="contoso-vm",
                   publisher_id="contoso", run_id="run-1", producer="test")
        message = Incoming("offerflow.publishing", 0, 0, b"contoso-vm", encode(env))
        await dispatcher.process(message)
        await dispatcher.process(message)
        assert len(list(sink.directory.glob("*.eml"))) == 1
        assert len(out.events()) == 1
    finally:
        await sink.stop()
