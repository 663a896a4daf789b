-- Reuse is per publisher: a report made for one publisher must never be handed to another, because even
-- "already certified" tells them that someone else published the same bytes (and used to name that run).
-- Reports made before this migration cannot be attributed to a publisher, so they are dropped from the reuse
-- table: the cost is one fresh test of those images. certification_run_reports (every run's reports) keeps them.
DELETE FROM certification_reports;
ALTER TABLE certification_reports ADD COLUMN publisher_id text NOT NULL;
ALTER TABLE certification_reports DROP CONSTRAINT certification_reports_pkey;
ALTER TABLE certification_reports ADD PRIMARY KEY (publisher_id, sha256, certifier_version, profile);

-- Which publisher each run's report belongs to (NULL for runs before this migration).
ALTER TABLE certification_run_reports ADD COLUMN publisher_id text;
