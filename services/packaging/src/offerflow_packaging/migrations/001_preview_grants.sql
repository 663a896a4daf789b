-- Preview access: one row per run that opened (or may open) a preview, and one per subscription granted.
-- A run is open until closed_at is set (went live, canceled, Go live failed, superseded by a new publish);
-- draft_audience is the preview audience of the latest draft saved while the run was open (NULL: none).
CREATE TABLE IF NOT EXISTS preview_runs (
    run_id         text        PRIMARY KEY,
    publisher_id   text        NOT NULL,
    offer_id       text        NOT NULL,
    draft_audience jsonb,
    opened_at      timestamptz NOT NULL DEFAULT now(),
    closed_at      timestamptz,
    closed_reason  text
);

CREATE INDEX IF NOT EXISTS preview_runs_open_idx ON preview_runs (publisher_id, offer_id) WHERE closed_at IS NULL;

-- A grant is what one preview link stands for; revoked_at is final (a link once withdrawn never works again).
CREATE TABLE IF NOT EXISTS preview_grants (
    run_id          text        NOT NULL REFERENCES preview_runs (run_id),
    subscription_id text        NOT NULL,
    expires_at      bigint      NOT NULL,
    issued_at       timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    revoked_reason  text,
    PRIMARY KEY (run_id, subscription_id)
);
