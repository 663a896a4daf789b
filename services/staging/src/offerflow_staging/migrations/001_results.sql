-- What each staging input produced, by the input's event id: a redelivered provisioning.passed re-emits the same
-- events (same ids, derived from the cause) instead of booting again. A boot stopped because its run ended
-- (a new Publish, the step's time limit) is kept as 'canceled', with no events: a redelivery does nothing.
CREATE TABLE IF NOT EXISTS staging_results (
    cause_event_id text        PRIMARY KEY,
    publisher_id   text        NOT NULL,
    offer_id       text        NOT NULL,
    run_id         text        NOT NULL,
    outcome        text        NOT NULL CHECK (outcome IN ('done', 'canceled')),
    events         jsonb       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS staging_results_offer_idx ON staging_results (offer_id, created_at);
