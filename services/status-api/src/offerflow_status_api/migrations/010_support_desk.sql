-- The support desk. Command side: where each request stands (open / answered / closed) and its last sequence
-- number; answer, reply and close decide from this row, locked, and write their event to the outbox.
ALTER TABLE support_requests ADD COLUMN status text NOT NULL DEFAULT 'open'
    CHECK (status IN ('open', 'answered', 'closed'));
ALTER TABLE support_requests ADD COLUMN seq int NOT NULL DEFAULT 1;
ALTER TABLE support_requests ADD COLUMN contact_emails jsonb NOT NULL DEFAULT '[]';
ALTER TABLE support_requests ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

-- Read model: the support events of the archive, copied by a trigger in the archive's own transaction. Every
-- way the archive is written keeps it in step: the live projection (one event), a redelivery (archived once,
-- by event id, so copied once), and the rebuild from the topics (it empties the archive, which empties this
-- table, then refills the archive in bulk). A narrow table of its own keeps the archive's indexes as they are.
CREATE TABLE support_events (
    event_id     uuid PRIMARY KEY,
    request_id   text NOT NULL,
    event_type   text NOT NULL,
    seq          int NOT NULL,
    publisher_id text NOT NULL,
    offer_id     text NOT NULL,
    run_id       text,
    occurred_at  timestamptz NOT NULL,
    payload      jsonb NOT NULL
);
CREATE INDEX support_events_request ON support_events (request_id, seq);
CREATE INDEX support_events_opened ON support_events (publisher_id, occurred_at)
    WHERE event_type = 'offer.support_requested';

CREATE FUNCTION support_events_archived() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The opening is the request's first event; later ones carry their sequence number (a payload the
    -- contract refuses is archived for the record, and must not stop the archive: it gets 0).
    INSERT INTO support_events (event_id, request_id, event_type, seq, publisher_id, offer_id, run_id,
                                occurred_at, payload)
    VALUES (NEW.event_id, COALESCE(NEW.payload->>'request_id', ''), NEW.event_type,
            CASE WHEN NEW.event_type = 'offer.support_requested' THEN 1
                 WHEN NEW.payload->>'seq' ~ '^[0-9]{1,9}$' THEN (NEW.payload->>'seq')::int ELSE 0 END,
            NEW.publisher_id, NEW.offer_id, NEW.run_id, NEW.occurred_at, NEW.payload)
    ON CONFLICT (event_id) DO NOTHING;
    RETURN NULL;
END $$;

CREATE FUNCTION support_events_emptied() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM support_events;  -- DELETE, not TRUNCATE: the services' role may delete rows, not truncate
    RETURN NULL;
END $$;

CREATE TRIGGER event_archive_support AFTER INSERT ON event_archive FOR EACH ROW
    WHEN (NEW.event_type IN ('offer.support_requested', 'offer.support_answered', 'offer.support_replied',
                             'offer.support_closed'))
    EXECUTE FUNCTION support_events_archived();
CREATE TRIGGER event_archive_support_emptied AFTER TRUNCATE ON event_archive FOR EACH STATEMENT
    EXECUTE FUNCTION support_events_emptied();

INSERT INTO support_events (event_id, request_id, event_type, seq, publisher_id, offer_id, run_id, occurred_at,
                            payload)
SELECT event_id, COALESCE(payload->>'request_id', ''), event_type, 1, publisher_id, offer_id, run_id,
       occurred_at, payload
FROM event_archive WHERE event_type = 'offer.support_requested';

-- Each request folded from its events: the status is the newest event's (by the request's own sequence number,
-- not by arrival; closed stays closed), the conversation is in sequence order.
CREATE VIEW support_desk AS
SELECT o.request_id, o.publisher_id, o.offer_id, o.run_id, o.payload->>'step' AS step, o.payload->>'title' AS title,
       o.payload->'contact_emails' AS contact_emails, o.occurred_at AS opened_at, latest.status,
       latest.occurred_at AS updated_at, talk.conversation
FROM support_events o
CROSS JOIN LATERAL (
    SELECT CASE e.event_type WHEN 'offer.support_answered' THEN 'answered'
                             WHEN 'offer.support_closed' THEN 'closed' ELSE 'open' END AS status,
           e.occurred_at
    FROM support_events e WHERE e.request_id = o.request_id
    ORDER BY e.event_type = 'offer.support_closed' DESC, e.seq DESC LIMIT 1
) latest
CROSS JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object(
               'seq', e.seq,
               'kind', replace(split_part(e.event_type, '_', 2), 'requested', 'opened'),
               'role', CASE WHEN e.event_type = 'offer.support_answered'
                              OR (e.event_type = 'offer.support_closed' AND e.payload->>'role' = 'support')
                            THEN 'support' ELSE 'publisher' END,
               'author', COALESCE(e.payload->>'requested_by', e.payload->>'answered_by',
                                  e.payload->>'replied_by', e.payload->>'closed_by'),
               'text', COALESCE(e.payload->>'description', e.payload->>'message', ''),
               'at', e.occurred_at) ORDER BY e.seq) AS conversation
    FROM support_events e WHERE e.request_id = o.request_id
) talk
WHERE o.event_type = 'offer.support_requested';
