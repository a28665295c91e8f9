-- Transactional outbox: an event is written here in the same transaction as the change it
-- announces; the relay publishes it and marks it sent.
CREATE TABLE outbox (
    id           BIGSERIAL PRIMARY KEY,
    event_id     UUID        NOT NULL UNIQUE,       -- ce_id, a UUIDv7
    topic        TEXT        NOT NULL,
    message_key  TEXT        NOT NULL,              -- the aggregate id: events of one key stay in order
    ce_type      TEXT        NOT NULL,
    ce_source    TEXT        NOT NULL,
    ce_subject   TEXT        NOT NULL,
    ce_time      TIMESTAMPTZ NOT NULL,
    payload      BYTEA       NOT NULL,              -- the protobuf message
    trace_headers JSONB      NOT NULL DEFAULT '{}', -- traceparent/tracestate at enqueue time
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at      TIMESTAMPTZ,
    attempts     INTEGER     NOT NULL DEFAULT 0,
    last_error   TEXT
);

-- The relay's scan: unsent rows in id order.
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
