"""Sends one event's mail to each recipient exactly once, guarded by the ledger.

Per recipient: claim ('sending' committed) → SMTP → mark 'sent' → emit NotificationSent → mark 'announced'.
A crash after the claim and before 'sent' makes the redelivery send again (same Message-ID): a mail may be
duplicated in that window, never lost. A crash after 'sent' only re-emits NotificationSent, whose id is
derived from the cause, so consumers see the same event twice at most and dedupe it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate

from offerflow_contract.envelope import Envelope
from offerflow_contract.events import NotificationSent
from offerflow_notifier import rules
from offerflow_notifier.adapters.ledger import Claim, Ledger, MailRecord, MailStatus
from offerflow_notifier.adapters.mailer import Mailer, PermanentMailError, TransientMailError
from offerflow_notifier.render import Rendered, Renderer
from offerflow_shared.backoff import Sleep, retrying
from offerflow_shared.outbox import Outbox
from offerflow_shared.runtime import RetryPolicy

log = logging.getLogger("offerflow.notifier")


def mail_retry(attempts: int = 4, first_delay: float = 1.0, max_delay: float = 20.0) -> RetryPolicy:
    """The handler's own bounded retry of one mail; after it the handler raises and the dispatcher retries."""
    return RetryPolicy(attempts=attempts, first_delay=first_delay, max_delay=max_delay)


# Recording a sent mail outlasts a database restart: giving up would make the redelivery send it again.
MARK_SENT_RETRY = RetryPolicy(attempts=12, first_delay=0.5, max_delay=10.0)


@dataclass
class Notifier:
    mailer: Mailer
    ledger: Ledger
    sender: str
    public_url: str
    support_address: str = "support@offerflow.local"  # settings.py validates the running service's
    renderer: Renderer = field(default_factory=Renderer)
    retry: RetryPolicy = field(default_factory=mail_retry)
    sleep: Sleep = asyncio.sleep

    async def deliver(self, env: Envelope, mail: rules.Mail, out: Outbox) -> None:
        if not mail.recipients:
            log.info("no recipients for %s (%s): nothing to send", env.event_type, mail.template)
            return
        rendered = self.renderer.render(mail.template, mail.context)
        for recipient in mail.recipients:
            await self._deliver_one(env, mail.template, rendered, recipient, out)

    async def _deliver_one(
        self, env: Envelope, template: str, rendered: Rendered, recipient: str, out: Outbox
    ) -> None:
        record = MailRecord(
            cause_event_id=str(env.event_id),
            recipient=rules.ledger_recipient(recipient),
            cause_event_type=env.event_type,
            template=template,
            subject=rendered.subject,
            message_id=rules.message_id(str(env.event_id), recipient, self.sender),
            offer_id=env.offer_id,
            run_id=env.run_id,
        )
        claim = await self.ledger.claim(record)
        if claim is Claim.DONE:
            log.info("%s to %s already handled for event %s",
                     template, record.recipient, record.cause_event_id)
            return
        if claim in (Claim.SEND, Claim.RESEND):
            if claim is Claim.RESEND:
                log.warning("re-sending %s to %s: an earlier attempt did not record it as sent",
                            template, record.recipient)
            try:
                await self._send_with_retry(self._compose(env, record, rendered, recipient))
            except PermanentMailError as exc:
                # The server refused this address for good: record why and go on with the other recipients.
                log.warning("%s to %s rejected: %s", template, record.recipient, exc)
                await self.ledger.mark(record, MailStatus.REJECTED, str(exc))
                return
            await self._mark_sent(record)
        await out.emit(
            NotificationSent(
                template=template,
                recipients=[recipient],
                subject=rendered.subject,
                cause_event_id=record.cause_event_id,
                cause_event_type=env.event_type,
            ),
            discriminator=f"{template}:{record.recipient}",
        )
        await self.ledger.mark(record, MailStatus.ANNOUNCED)

    async def _mark_sent(self, record: MailRecord) -> None:
        """The mail is out: keep trying to record it (e.g. through a database restart) before giving up,
        since giving up means the redelivery sends it again."""
        await retrying(lambda: self.ledger.mark(record, MailStatus.SENT), MARK_SENT_RETRY, retry_on=_any,
                       what=f"recording {record.template} to {record.recipient} as sent", logger=log)

    async def _send_with_retry(self, message: EmailMessage) -> None:
        await retrying(lambda: self.mailer.send(message), self.retry,
                       retry_on=lambda exc: isinstance(exc, TransientMailError),
                       what=f"sending to {message['To']}", sleep=self.sleep, logger=log)

    def _compose(self, env: Envelope, record: MailRecord, rendered: Rendered, recipient: str) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = recipient
        msg["Subject"] = rendered.subject
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = record.message_id
        # Tells auto-responders not to answer, and lets the status page or a support engineer trace a mail.
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Offerflow-Offer"] = env.offer_id
        if env.run_id:
            msg["X-Offerflow-Run"] = env.run_id
        msg["X-Offerflow-Event"] = record.cause_event_id
        msg["X-Offerflow-Template"] = record.template
        msg.set_content(rendered.text)
        msg.add_alternative(rendered.html, subtype="html")
        return msg


def _any(exc: Exception) -> bool:
    return True
