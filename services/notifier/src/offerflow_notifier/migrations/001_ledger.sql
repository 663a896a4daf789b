-- One row per (cause event, recipient): the notifier's guard against sending a mail twice.
-- 'sending' is committed before the SMTP call, so a crash can only cause a re-send, never a lost mail.
CREATE TABLE IF NOT EXISTS notifier_mail_ledger (
    cause_event_id   uuid        NOT NULL,
    recipient        text        NOT NULL,
    cause_event_type text        NOT NULL,
    template         text        NOT NULL,
    subject          text        NOT NULL,
    message_id       text        NOT NULL,
    offer_id         text        NOT NULL,
    run_id           text,
    status           text        NOT NULL CHECK (status IN ('sending', 'sent', 'announced', 'rejected')),
    attempts         integer     NOT NULL DEFAULT 1,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    PRIMARY KEY (cause_event_id, recipient)
);

CREATE INDEX IF NOT EXISTS notifier_mail_ledger_offer_idx ON notifier_mail_ledger (offer_id, created_at);
