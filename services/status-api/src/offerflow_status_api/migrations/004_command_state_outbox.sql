-- Command-side state of each offer's current run, decided and written in the same transaction as the events
-- it emits (the outbox). Commands never read the projection to decide.
ALTER TABLE drafts ADD COLUMN run_phase text;              -- running | signoff | golive | ended
ALTER TABLE drafts ADD COLUMN run_outcome text;            -- failed | succeeded | canceled (once ended)
ALTER TABLE drafts ADD COLUMN signoff text;                -- goLive | cancel: recorded once per run
ALTER TABLE drafts ADD COLUMN signoff_at timestamptz;
ALTER TABLE drafts ADD COLUMN run_emails jsonb NOT NULL DEFAULT '[]';
ALTER TABLE drafts ADD COLUMN run_definition jsonb;
ALTER TABLE drafts ADD COLUMN live_definition jsonb;

-- Offers that ran before this state existed take it from what their runs reached.
UPDATE drafts d SET
    run_phase = CASE r.status WHEN 'running' THEN 'running' WHEN 'waitingForPublisherReview' THEN 'signoff'
                              ELSE 'ended' END,
    run_outcome = CASE WHEN r.status IN ('failed', 'succeeded', 'canceled') THEN r.status END,
    signoff = CASE WHEN r.submission_type = 'goLive' THEN 'goLive' WHEN r.status = 'canceled' THEN 'cancel' END,
    run_emails = COALESCE(to_jsonb(string_to_array(r.document->>'notificationEmails', ',')), '[]'::jsonb)
FROM runs r WHERE r.run_id = d.pending_run_id;
UPDATE drafts d SET run_phase = 'running' WHERE d.pending_run_id IS NOT NULL AND d.run_phase IS NULL;
UPDATE drafts d SET live_definition = v.definition
FROM (SELECT DISTINCT ON (r.publisher_id, r.offer_id) r.publisher_id, r.offer_id, ov.definition
      FROM runs r JOIN offer_versions ov ON ov.run_id = r.run_id
      WHERE r.went_live ORDER BY r.publisher_id, r.offer_id, r.offer_version DESC) v
WHERE v.publisher_id = d.publisher_id AND v.offer_id = d.offer_id;

-- Events waiting to be put on Kafka, in commit order; the relay deletes each row once the broker has it.
CREATE TABLE outbox (
    seq        bigserial PRIMARY KEY,
    topic      text NOT NULL,
    key        bytea,
    value      bytea NOT NULL,
    headers    jsonb NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The first answer given to each Idempotency-Key (per publisher), returned again for a repeated key.
CREATE TABLE idempotency_keys (
    publisher_id text NOT NULL,
    key          text NOT NULL,
    fingerprint  text NOT NULL,
    status       int NOT NULL,
    body         jsonb,
    headers      jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (publisher_id, key)
);
