"""The ledger in PostgreSQL (table ``notifier_mail_ledger``, see migrations/)."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from offerflow_notifier.adapters.ledger import Claim, MailRecord, MailStatus, claim_for

_INSERT = """
INSERT INTO notifier_mail_ledger
    (cause_event_id, recipient, cause_event_type, template, subject, message_id, offer_id, run_id, status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'sending')
ON CONFLICT (cause_event_id, recipient) DO NOTHING
RETURNING status
"""
_RETRY = """
UPDATE notifier_mail_ledger SET attempts = attempts + 1, updated_at = now()
WHERE cause_event_id = $1 AND recipient = $2 AND status = 'sending'
RETURNING status
"""
_STATUS = "SELECT status FROM notifier_mail_ledger WHERE cause_event_id = $1 AND recipient = $2"
_MARK = """
UPDATE notifier_mail_ledger
SET status = $3, last_error = COALESCE($4, last_error), updated_at = now(),
    sent_at = CASE WHEN $3 = 'sent' THEN now() ELSE sent_at END
WHERE cause_event_id = $1 AND recipient = $2
"""


class PostgresLedger:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def claim(self, record: MailRecord) -> Claim:
        key = (UUID(record.cause_event_id), record.recipient)
        # Autocommit per statement: the 'sending' row must be durable before the SMTP call starts.
        async with self._pool.acquire() as conn:
            inserted = await conn.fetchval(
                _INSERT, *key, record.cause_event_type, record.template, record.subject,
                record.message_id, record.offer_id, record.run_id,
            )
            if inserted is not None:
                return Claim.SEND
            if await conn.fetchval(_RETRY, *key) is not None:
                return Claim.RESEND
            status = await conn.fetchval(_STATUS, *key)
        return claim_for(MailStatus(status)) if status is not None else Claim.SEND

    async def mark(self, record: MailRecord, status: MailStatus, error: str | None = None) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(_MARK, UUID(record.cause_event_id), record.recipient, status.value, error)
