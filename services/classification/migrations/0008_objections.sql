-- Objections (异议) to a published ranking. Filed within the objection window after the
-- period's publication (`publications`, 0007); one per firm and period awaits decision at a
-- time (the partial unique index). Upholding sets the decided class as an override (audited in
-- `override_audit`) in the same transaction as the decision.
CREATE TABLE objections (
    id              bigserial PRIMARY KEY,
    period          text NOT NULL REFERENCES publications (period),
    uscc            text NOT NULL,
    reason          text NOT NULL,
    evidence        text[] NOT NULL DEFAULT '{}',
    requested_class smallint,            -- haicheng.common.v1.EnterpriseClass; NULL if none named
    class_at_filing smallint NOT NULL,   -- the class in force when filed, 0 = none
    state           text NOT NULL CHECK (state IN ('filed', 'upheld', 'rejected')),
    filed_by        text NOT NULL,
    filed_at        timestamptz NOT NULL,
    deadline        timestamptz NOT NULL, -- the window's end when it was filed
    decided_class   smallint,            -- the override set when upheld
    decision_reason text,
    decided_by      text,
    decided_at      timestamptz,
    CHECK ((state = 'filed') = (decided_at IS NULL)),
    CHECK ((state = 'upheld') = (decided_class IS NOT NULL))
);
CREATE UNIQUE INDEX objections_one_undecided ON objections (period, uscc) WHERE state = 'filed';
CREATE INDEX objections_by_enterprise ON objections (uscc, period);
CREATE INDEX objections_by_period ON objections (period, id);
