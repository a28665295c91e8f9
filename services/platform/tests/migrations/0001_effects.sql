-- One row per application of a test event's effect: a duplicate application shows as two rows.
CREATE TABLE effects (
    id       BIGSERIAL PRIMARY KEY,
    event_id UUID NOT NULL,
    subject  TEXT NOT NULL,
    trace_id TEXT
);
