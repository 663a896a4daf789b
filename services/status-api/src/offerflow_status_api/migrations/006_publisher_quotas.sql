-- Publish runs started per publisher, for the runs-per-hour quota: written in the Publish command's transaction
-- (command side, never derived from the projection). Rows older than a day are deleted as new ones arrive.
CREATE TABLE publish_runs (
    publisher_id text NOT NULL,
    run_id       text NOT NULL,
    started_at   timestamptz NOT NULL,
    PRIMARY KEY (publisher_id, run_id)
);
CREATE INDEX publish_runs_window ON publish_runs (publisher_id, started_at);
