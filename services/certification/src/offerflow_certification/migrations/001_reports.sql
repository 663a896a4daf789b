-- Reports by image: an image already certified (same bytes, same certifier, same kind of disk) is not
-- tested again; the run that produced the report is kept so the reuse can name it.
CREATE TABLE IF NOT EXISTS certification_reports (
    sha256            text        NOT NULL,
    certifier_version text        NOT NULL,
    profile           text        NOT NULL,
    run_id            text        NOT NULL,
    offer_id          text        NOT NULL,
    report            jsonb       NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sha256, certifier_version, profile)
);

-- Every report of every run, per plan, image version and disk (reused ones included).
CREATE TABLE IF NOT EXISTS certification_run_reports (
    run_id        text        NOT NULL,
    plan_id       text        NOT NULL,
    image_version text        NOT NULL,
    disk          text        NOT NULL,
    offer_id      text        NOT NULL,
    sha256        text,
    report        jsonb       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, plan_id, image_version, disk)
);

CREATE INDEX IF NOT EXISTS certification_run_reports_offer_idx ON certification_run_reports (offer_id, created_at);
