-- Support-policy notice store: every SupportPolicyNotice consumed from
-- haicheng.policy.notices.v1 (whoever produced it), with its acknowledgement.
--
-- `seq` is the watch cursor. Inserts take a transaction advisory lock before drawing it
-- (see src/notices/store.rs), so notices commit in `seq` order and a reader that has seen
-- `seq = n` will never later find a committed notice below n: resuming after n misses nothing.
CREATE TABLE notices (
    seq             BIGSERIAL   PRIMARY KEY,
    notice_id       TEXT        NOT NULL UNIQUE,  -- deterministic at the producer: the dedup key
    department      TEXT        NOT NULL,         -- platform::auth::Department::as_str()
    uscc            TEXT        NOT NULL,         -- empty for notices not about one enterprise
    kind            TEXT        NOT NULL,         -- for people reading the table; the API uses payload
    source          TEXT        NOT NULL,
    issued_at       TIMESTAMPTZ NOT NULL,
    due_at          TIMESTAMPTZ,                  -- the producer's own deadline; NULL: the configured default
    payload         BYTEA       NOT NULL,         -- the SupportPolicyNotice as received (protobuf)
    event_id        UUID        NOT NULL,         -- ce_id of the delivery that stored it
    received_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    acknowledged_at TIMESTAMPTZ,
    acknowledged_by TEXT,                         -- the principal, e.g. department:finance
    CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL))
);

-- List (newest first) and watch (from a cursor on) within one department.
CREATE INDEX notices_department_seq ON notices (department, seq);
