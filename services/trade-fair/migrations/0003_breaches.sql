-- Rule breaches at a fair (sub-letting a booth, leaving early, a false declaration), which bar
-- the firm from the next sessions of the fair's kind; and a firm may apply again to a fair
-- after cancelling: one registration per firm and fair that is not cancelled.

CREATE TABLE breaches (
    id          uuid PRIMARY KEY,
    fair_id     uuid NOT NULL REFERENCES fairs (id),
    uscc        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('sub_letting', 'leaving_early', 'false_declaration')),
    evidence    text NOT NULL,
    reference   text NOT NULL DEFAULT '',
    recorded_at timestamptz NOT NULL,
    -- One breach of a kind per firm and fair.
    UNIQUE (fair_id, uscc, kind)
);
CREATE INDEX breaches_by_uscc ON breaches (uscc);

-- The sessions of a kind, in order.
CREATE INDEX fairs_by_kind_and_start ON fairs (kind, starts_at, id);

ALTER TABLE registrations DROP CONSTRAINT registrations_fair_id_uscc_key;
CREATE UNIQUE INDEX registrations_one_live_per_firm
    ON registrations (fair_id, uscc) WHERE status <> 'cancelled';
