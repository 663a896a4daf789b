"""Exactly once per (cause event, recipient): redelivery, crash recovery, SMTP outages, no recipients."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest

from offerflow_contract.envelope import Envelope
from offerflow_contract.events import NotificationSent, PublishCanceled, ValidationFailed
from offerflow_contract.events.base import Reason
from offerflow_notifier import rules
from offerflow_notifier.adapters.ledger import MailStatus, MemoryLedger
from offerflow_notifier.adapters.mailer import MemoryMailer, PermanentMailError, TransientMailError
from offerflow_notifier.bootstrap import build_notifier
from offerflow_notifier.delivery import Notifier
from offerflow_notifier.settings import Settings
from offerflow_shared.outbox import MemorySink
from offerflow_shared.runtime import Dispatcher

from .conftest import SENDER, Deliver, envelope, incoming


def canceled(*emails: str) -> Envelope:
    return envelope(PublishCanceled(notification_emails=list(emails)))


def notifications(sink: MemorySink) -> list[NotificationSent]:
    return [e for e in sink.events("offerflow.notifications") if isinstance(e, NotificationSent)]


def key(env: Envelope, recipient: str) -> tuple[str, str]:
    return (str(env.event_id), recipient)


async def test_same_event_twice_sends_one_mail_and_one_notification(
    deliver: Deliver, mailer: MemoryMailer, sink: MemorySink, ledger: MemoryLedger
) -> None:
    env = canceled("ana@contoso.test")
    await deliver(env)
    await deliver(env)
    assert len(mailer.sent) == 1
    assert len(notifications(sink)) == 1
    assert ledger.rows[key(env, "ana@contoso.test")] is MailStatus.ANNOUNCED


async def test_one_mail_per_recipient_with_repeats_removed(
    deliver: Deliver, mailer: MemoryMailer, sink: MemorySink
) -> None:
    await deliver(canceled("ana@contoso.test", " Ana@Contoso.test ", "bo@contoso.test", ""))
    assert [m["To"] for m in mailer.sent] == ["ana@contoso.test", "bo@contoso.test"]
    sent = notifications(sink)
    assert [n.recipients for n in sent] == [["ana@contoso.test"], ["bo@contoso.test"]]
    assert len({e.event_id for e in sink.envelopes()}) == 2


async def test_crash_between_sending_and_sent_resends_the_same_mail(
    deliver: Deliver, mailer: MemoryMailer, sink: MemorySink, ledger: MemoryLedger
) -> None:
    env = canceled("ana@contoso.test")
    # What a crash right after the SMTP call leaves behind: the committed 'sending' row, nothing else.
    ledger.rows[key(env, "ana@contoso.test")] = MailStatus.SENDING
    ledger.attempts[key(env, "ana@contoso.test")] = 1
    await deliver(env)
    assert len(mailer.sent) == 1
    assert mailer.sent[0]["Message-ID"] == rules.message_id(str(env.event_id), "ana@contoso.test", SENDER)
    assert ledger.attempts[key(env, "ana@contoso.test")] == 2
    assert ledger.rows[key(env, "ana@contoso.test")] is MailStatus.ANNOUNCED
    assert len(notifications(sink)) == 1


async def test_crash_after_sent_only_announces(
    deliver: Deliver, mailer: MemoryMailer, sink: MemorySink, ledger: MemoryLedger
) -> None:
    env = canceled("ana@contoso.test")
    ledger.rows[key(env, "ana@contoso.test")] = MailStatus.SENT
    await deliver(env)
    assert mailer.sent == []
    assert len(notifications(sink)) == 1
    assert ledger.rows[key(env, "ana@contoso.test")] is MailStatus.ANNOUNCED


async def test_reannouncing_gives_the_same_event_id(deliver: Deliver, sink: MemorySink,
                                                     ledger: MemoryLedger) -> None:
    env = canceled("ana@contoso.test")
    await deliver(env)
    ledger.rows[key(env, "ana@contoso.test")] = MailStatus.SENT  # as if the last mark had been lost
    await deliver(env)
    ids = [e.event_id for e in sink.envelopes()]
    assert len(ids) == 2 and ids[0] == ids[1]


async def test_message_id_is_deterministic_per_cause_and_recipient() -> None:
    a = rules.message_id("e1", "Ana@Contoso.test", SENDER)
    assert a == rules.message_id("e1", "ana@contoso.test", SENDER)
    assert a != rules.message_id("e1", "bo@contoso.test", SENDER)
    assert a != rules.message_id("e2", "ana@contoso.test", SENDER)


async def test_no_recipients_sends_nothing_and_logs(
    deliver: Deliver, mailer: MemoryMailer, sink: MemorySink, ledger: MemoryLedger,
    caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="offerflow.notifier")
    await deliver(envelope(ValidationFailed(summary="x", reasons=[Reason(code="c", message="m")])))
    assert mailer.attempts == 0 and sink.records == [] and ledger.rows == {}
    assert "no recipients" in caplog.text


async def test_smtp_hiccup_is_retried_with_backoff_inside_the_handler(
    deliver: Deliver, mailer: MemoryMailer, sink: MemorySink, sleeps: list[float]
) -> None:
    mailer.failures += [TransientMailError("connection refused"), TransientMailError("421 try later")]
    await deliver(canceled("ana@contoso.test"))
    assert len(mailer.sent) == 1 and mailer.attempts == 3
    assert sleeps == [1.0, 2.0]
    assert len(notifications(sink)) == 1


async def test_long_outage_raises_to_the_dispatcher_and_keeps_the_mail_claimed(
    dispatcher: Dispatcher, mailer: MemoryMailer, sink: MemorySink, ledger: MemoryLedger
) -> None:
    env = canceled("ana@contoso.test")
    mailer.failures += [TransientMailError("connection refused")] * 6  # 3 per handler call, 2 calls
    await dispatcher.process(incoming(env))
    assert mailer.sent == [] and mailer.attempts == 6
    # The dispatcher gave up and dead-lettered it; the row stays 'sending', so a replay sends it.
    assert dispatcher.dead_lettered == 1
    assert [t for t, *_ in sink.records] == ["offerflow.test.dlq"]
    assert ledger.rows[key(env, "ana@contoso.test")] is MailStatus.SENDING
    await dispatcher.process(incoming(env))
    assert len(mailer.sent) == 1 and len(notifications(sink)) == 1


@dataclass
class DownFor:
    """Refuses the first ``outage`` sends to ``address``; sends everything else."""

    address: str
    outage: int
    sent: list[EmailMessage] = field(default_factory=list)

    async def send(self, message: EmailMessage) -> None:
        if message["To"] == self.address and self.outage > 0:
            self.outage -= 1
            raise TransientMailError("connection refused")
        self.sent.append(message)


async def test_outage_on_second_recipient_does_not_resend_to_the_first(
    notifier: Notifier, dispatcher: Dispatcher, sink: MemorySink
) -> None:
    mailer = DownFor(address="bo@contoso.test", outage=6)
    notifier.mailer = mailer
    env = canceled("ana@contoso.test", "bo@contoso.test")
    await dispatcher.process(incoming(env))
    assert [m["To"] for m in mailer.sent] == ["ana@contoso.test"] and dispatcher.dead_lettered == 1
    await dispatcher.process(incoming(env))  # the replay
    assert [m["To"] for m in mailer.sent] == ["ana@contoso.test", "bo@contoso.test"]
    assert [n.recipients for n in notifications(sink)] == [["ana@contoso.test"], ["bo@contoso.test"]]


async def test_refused_recipient_is_recorded_and_others_still_get_mail(
    deliver: Deliver, mailer: MemoryMailer, sink: MemorySink, ledger: MemoryLedger
) -> None:
    env = canceled("gone@contoso.test", "ana@contoso.test")
    mailer.failures.append(PermanentMailError("550 no such user"))
    await deliver(env)
    assert [m["To"] for m in mailer.sent] == ["ana@contoso.test"]
    assert ledger.rows[key(env, "gone@contoso.test")] is MailStatus.REJECTED
    assert "550" in ledger.errors[key(env, "gone@contoso.test")]
    assert [n.recipients for n in notifications(sink)] == [["ana@contoso.test"]]
    await deliver(env)
    assert mailer.attempts == 2  # neither is tried again


def test_password_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFERFLOW_NOTIFIER_SMTP_PASSWORD", "hunter2")
    monkeypatch.setenv("OFFERFLOW_NOTIFIER_SMTP_TLS", "starttls")
    settings = Settings()
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())
    assert "hunter2" not in repr(build_notifier(settings, MemoryLedger()).mailer)


def test_defaults() -> None:
    settings = Settings()
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_tls) == ("127.0.0.1", 1025, "none")
    assert settings.sender == SENDER and settings.web_port == 6065
