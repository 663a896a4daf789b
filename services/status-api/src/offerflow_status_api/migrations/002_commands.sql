-- Command side of the status-api: the draft being edited (ETag concurrency) and the run it started.
CREATE TABLE drafts (
    publisher_id      text NOT NULL,
    offer_id          text NOT NULL,
    offer_type_id     text NOT NULL,
    definition        jsonb NOT NULL,
    etag              text NOT NULL,
    draft_version     int NOT NULL,
    version           int NOT NULL DEFAULT 1,
    pending_run_id    text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (publisher_id, offer_id)
);
