-- Inbox: the ids of events whose effect a consumer has applied, recorded in the same
-- transaction as the effect, so a redelivered event is recognised and skipped.
CREATE TABLE inbox (
    consumer     TEXT        NOT NULL,
    event_id     UUID        NOT NULL,
    topic        TEXT        NOT NULL,
    kafka_partition INTEGER  NOT NULL,
    kafka_offset BIGINT      NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
