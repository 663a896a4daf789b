-- Read model: the state of each run's fold, so the projection applies one event to it instead of folding the
-- run's every event again. One row per run, from its first event on (a run's events may arrive before its
-- publish request, when it has no row in runs yet). Rebuildable from the topics like the rest of the read model;
-- a run archived before this table existed gets its state folded from event_archive on its next event.
CREATE TABLE run_states (
    run_id text PRIMARY KEY,
    state  jsonb NOT NULL
);
