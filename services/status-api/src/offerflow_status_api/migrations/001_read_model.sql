-- Read model built by the status projection; rebuildable from the topics at any time.
CREATE TABLE event_archive (
    event_id       uuid PRIMARY KEY,
    event_type     text NOT NULL,
    schema_version int NOT NULL,
    offer_id       text NOT NULL,
    publisher_id   text NOT NULL,
    run_id         text,
    occurred_at    timestamptz NOT NULL,
    producer       text NOT NULL,
    correlation_id text NOT NULL,
    causation_id   text,
    payload        jsonb NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX event_archive_run ON event_archive (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX event_archive_offer ON event_archive (publisher_id, offer_id, occurred_at);

CREATE TABLE runs (
    run_id          text PRIMARY KEY,
    publisher_id    text NOT NULL,
    offer_id        text NOT NULL,
    offer_version   int,
    status          text NOT NULL,
    submission_type text NOT NULL,
    current_step    text NOT NULL,
    requested_at    timestamptz,
    finished_at     timestamptz,
    document        jsonb NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX runs_offer ON runs (publisher_id, offer_id, offer_version DESC);

CREATE TABLE offers (
    publisher_id   text NOT NULL,
    offer_id       text NOT NULL,
    offer_type_id  text,
    display_text   text,
    draft_version  int NOT NULL DEFAULT 0,
    definition     jsonb,
    status         text NOT NULL DEFAULT 'neverPublished',
    current_run_id text,
    current_step   text,
    step_since     timestamptz,
    offer_version  int NOT NULL DEFAULT 0,
    changed_time   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (publisher_id, offer_id)
);
