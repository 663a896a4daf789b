-- Publishers and their bearer tokens (only a SHA-256 of each token is kept).
CREATE TABLE publishers (
    publisher_id text PRIMARY KEY,
    display_name text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE api_tokens (
    token_id     text PRIMARY KEY,
    publisher_id text NOT NULL REFERENCES publishers (publisher_id),
    name         text NOT NULL,
    token_hash   text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

-- Every command and its outcome, refused ones included (accepted ones are also events on Kafka).
CREATE TABLE command_log (
    id           bigserial PRIMARY KEY,
    publisher_id text NOT NULL,
    offer_id     text NOT NULL,
    action       text NOT NULL,
    outcome      text NOT NULL,
    http_status  int NOT NULL,
    run_id       text,
    detail       text NOT NULL DEFAULT '',
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX command_log_offer ON command_log (publisher_id, offer_id, at);

-- Read model: the definition of every published version, and which version each slot shows.
CREATE TABLE offer_versions (
    publisher_id text NOT NULL,
    offer_id     text NOT NULL,
    version      int NOT NULL,
    run_id       text NOT NULL,
    definition   jsonb NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (publisher_id, offer_id, version)
);
ALTER TABLE runs ADD COLUMN preview_open boolean NOT NULL DEFAULT false;
ALTER TABLE runs ADD COLUMN went_live boolean NOT NULL DEFAULT false;

CREATE TABLE support_requests (
    request_id   text PRIMARY KEY,
    publisher_id text NOT NULL,
    offer_id     text NOT NULL,
    run_id       text,
    step         text NOT NULL,
    title        text NOT NULL,
    description  text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
