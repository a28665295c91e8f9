-- Classes per period, the cohorts' benchmarks, overrides with their audit trail, and a
-- record of every re-rank.

CREATE TABLE classifications (
    period          text NOT NULL,
    uscc            text NOT NULL,
    period_key      integer NOT NULL,   -- orders periods in time (Period::sort_key)
    name            text NOT NULL,
    park            integer NOT NULL,
    segment         integer NOT NULL,
    grading         smallint NOT NULL,  -- haicheng.classification.v1.Grading
    computed_class  smallint NOT NULL,  -- haicheng.common.v1.EnterpriseClass, 0 = none
    class           smallint NOT NULL,  -- in force: the override if any, else the computed class
    score           double precision NOT NULL,
    rank            integer NOT NULL,   -- 0 unless graded
    sort_rank       integer GENERATED ALWAYS AS (CASE WHEN rank > 0 THEN rank ELSE 2147483647 END) STORED,
    cohort_size     integer NOT NULL,
    model_version   bigint NOT NULL,
    reduced_model   boolean NOT NULL,
    vetoed          boolean NOT NULL,
    override_class  smallint,
    override_reason text,
    override_by     text,
    override_at     timestamptz,
    classified_at   timestamptz NOT NULL,
    PRIMARY KEY (period, uscc)
);
CREATE INDEX classifications_listing ON classifications (period, segment, sort_rank, uscc);
CREATE INDEX classifications_by_uscc ON classifications (uscc, period_key DESC);
CREATE INDEX classifications_by_period_key ON classifications (period_key DESC);

-- Benchmarks of each cohort (period, segment) at its last re-rank, for explanations.
CREATE TABLE cohorts (
    period        text NOT NULL,
    segment       integer NOT NULL,
    model_version bigint NOT NULL,
    cohort_size   integer NOT NULL,
    benchmarks    double precision[] NOT NULL,  -- by Indicator::index; NULL where none
    ranked_at     timestamptz NOT NULL,
    PRIMARY KEY (period, segment)
);

CREATE TABLE override_audit (
    id             bigserial PRIMARY KEY,
    period         text NOT NULL,
    uscc           text NOT NULL,
    action         text NOT NULL CHECK (action IN ('set', 'lift')),
    override_class smallint,            -- the class set; NULL for a lift
    class_before   smallint NOT NULL,   -- the class in force before
    reason         text NOT NULL,
    principal      text NOT NULL,
    at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX override_audit_by_enterprise ON override_audit (uscc, period);

-- One row per re-rank: how coalescing performs, and what each run changed.
CREATE TABLE rerank_runs (
    id              bigserial PRIMARY KEY,
    period          text NOT NULL,
    model_version   bigint NOT NULL,
    firms           integer NOT NULL,
    changed_classes integer NOT NULL,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL
);
CREATE INDEX rerank_runs_by_period ON rerank_runs (period);
