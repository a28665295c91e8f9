-- The support service's own tables: policies as versioned data, budgets the database keeps
-- from being exceeded, rounds with their lists and objections, payment orders; and the read
-- model of the facts the rules read, kept from other services' events (never their tables).

-- ---- Read model (from census, classification, land and fair events, through the inbox) ----

CREATE TABLE firms (
    uscc          text PRIMARY KEY,
    name          text NOT NULL,
    park          text CHECK (park IN ('XILIU', 'NANTAI', 'GANWANG', 'ZHONGXIAO')),
    segment       text CHECK (segment IN ('TEXTILE', 'APPAREL', 'LUGGAGE_LEATHER', 'TRADE')),
    registered_on date,
    veto          boolean NOT NULL DEFAULT false,
    deregistered  boolean NOT NULL DEFAULT false,
    -- the census record's version: an older event never overwrites a newer one
    version       bigint NOT NULL
);

-- The latest revision of each return.
CREATE TABLE returns (
    uscc                  text NOT NULL,
    period                text NOT NULL,
    revision              bigint NOT NULL,
    employees_total       bigint NOT NULL,
    rd_spend_fen          bigint NOT NULL,
    revenue_fen           bigint NOT NULL,
    industrial_output_fen bigint NOT NULL,
    tax_paid_fen          bigint NOT NULL,
    export_sales_fen      bigint NOT NULL,
    equipment_value_fen   bigint NOT NULL,
    invention_patents     bigint NOT NULL,
    land_used_centi_mu    bigint NOT NULL,
    PRIMARY KEY (uscc, period)
);

-- The class in force per period: the latest EnterpriseClassified by its time.
CREATE TABLE classes (
    uscc          text NOT NULL,
    period        text NOT NULL,
    class         text CHECK (class IN ('A', 'B', 'C')),
    score         double precision NOT NULL,
    classified_at timestamptz NOT NULL,
    PRIMARY KEY (uscc, period)
);

-- Every classification of a period, so the class as published is the last one before the
-- publication, whatever order the two events arrive in (they travel on different keys).
CREATE TABLE class_history (
    uscc          text NOT NULL,
    period        text NOT NULL,
    classified_at timestamptz NOT NULL,
    class         text CHECK (class IN ('A', 'B', 'C')),
    PRIMARY KEY (uscc, period, classified_at)
);

-- When each period's ranking was published (PeriodPublished).
CREATE TABLE publications (
    period       text PRIMARY KEY,
    published_at timestamptz NOT NULL
);

-- The latest evaluation of each grant (CommitmentEvaluated).
CREATE TABLE land_evaluations (
    grant_id    text PRIMARY KEY,
    uscc        text NOT NULL,
    short       boolean NOT NULL,
    recorded_at timestamptz NOT NULL
);
CREATE INDEX land_evaluations_short ON land_evaluations (uscc) WHERE short;

-- Confirmed registrations at external fairs (RegistrationConfirmed; RegistrationCancelled
-- removes them).
CREATE TABLE fair_participation (
    registration_id text PRIMARY KEY,
    uscc            text NOT NULL,
    year            integer NOT NULL
);
CREATE INDEX fair_participation_uscc ON fair_participation (uscc, year);

-- Expenses a department recorded for a firm (for the policies that pay a share of one).
CREATE TABLE expenses (
    uscc        text NOT NULL,
    period      text NOT NULL,
    kind        text NOT NULL,
    amount_fen  bigint NOT NULL CHECK (amount_fen >= 0),
    evidence    text NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (uscc, period, kind)
);

-- ---- Policies ----

CREATE TABLE policies (
    id              text NOT NULL,
    version         bigint NOT NULL CHECK (version >= 1),
    issuer          text NOT NULL,
    period          text NOT NULL,
    exclusive_group text,
    -- the PolicySpec as written (haicheng.support.v1.PolicySpec, protobuf): the contract
    -- versions it, and a round reads back exactly the version it ran on
    spec            bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text NOT NULL,
    PRIMARY KEY (id, version)
);
CREATE INDEX policies_group ON policies (exclusive_group, period) WHERE exclusive_group IS NOT NULL;

-- One row per policy: its budget (of the latest version) and what is ordered of it. The
-- CHECK is the guarantee: no transaction can commit orders beyond the budget.
CREATE TABLE budgets (
    policy_id      text PRIMARY KEY,
    latest_version bigint NOT NULL,
    budget_fen     bigint NOT NULL,
    ordered_fen    bigint NOT NULL DEFAULT 0,
    CONSTRAINT budget_never_exceeded CHECK (ordered_fen >= 0 AND ordered_fen <= budget_fen)
);

-- ---- Rounds ----

CREATE TABLE rounds (
    id                 uuid PRIMARY KEY,
    policy_id          text NOT NULL REFERENCES budgets (policy_id),
    policy_version     bigint NOT NULL,
    period             text NOT NULL,
    state              text NOT NULL CHECK (state IN ('PUBLISHED', 'FINAL')),
    published_at       timestamptz NOT NULL,
    objection_deadline timestamptz NOT NULL,
    finalized_at       timestamptz,
    -- one round per policy and period (a new version may name the next period)
    UNIQUE (policy_id, period)
);

CREATE TABLE round_entries (
    round_id     uuid NOT NULL REFERENCES rounds (id),
    uscc         text NOT NULL,
    name         text NOT NULL,
    class        text CHECK (class IN ('A', 'B', 'C')),
    score        double precision NOT NULL,
    entitled_fen bigint NOT NULL CHECK (entitled_fen >= 0),
    amount_fen   bigint NOT NULL CHECK (amount_fen >= 0 AND amount_fen <= entitled_fen),
    position     integer NOT NULL,
    explanation  text NOT NULL,
    by_objection boolean NOT NULL,
    PRIMARY KEY (round_id, uscc)
);

CREATE TABLE objections (
    id              uuid PRIMARY KEY,
    round_id        uuid NOT NULL REFERENCES rounds (id),
    uscc            text NOT NULL,
    reason          text NOT NULL,
    state           text NOT NULL CHECK (state IN ('FILED', 'UPHELD', 'REJECTED')),
    decision_reason text NOT NULL DEFAULT '',
    filed_by        text NOT NULL,
    filed_at        timestamptz NOT NULL,
    decided_at      timestamptz,
    UNIQUE (round_id, uscc)
);

-- ---- Payment orders ----

-- ---- Applications (快申快享) ----

CREATE TABLE applications (
    id              uuid PRIMARY KEY,
    policy_id       text NOT NULL REFERENCES budgets (policy_id),
    policy_version  bigint NOT NULL,
    uscc            text NOT NULL,
    name            text NOT NULL,
    entitled_fen    bigint NOT NULL CHECK (entitled_fen >= 0),
    state           text NOT NULL CHECK (state IN ('SUBMITTED', 'APPROVED', 'REJECTED')),
    applied_at      timestamptz NOT NULL,
    due_at          timestamptz NOT NULL,
    decided_at      timestamptz,
    decision_reason text NOT NULL DEFAULT '',
    policy_period   text NOT NULL,
    UNIQUE (policy_id, policy_period, uscc)
);
CREATE INDEX applications_undecided ON applications (due_at) WHERE state = 'SUBMITTED';

CREATE TABLE payment_orders (
    id              uuid PRIMARY KEY,
    -- a round's order or an approved application's, never both
    round_id        uuid REFERENCES rounds (id),
    application_id  uuid REFERENCES applications (id),
    policy_id       text NOT NULL,
    policy_version  bigint NOT NULL,
    period          text NOT NULL,
    exclusive_group text,
    uscc            text NOT NULL,
    name            text NOT NULL,
    amount_fen      bigint NOT NULL CHECK (amount_fen > 0),
    state           text NOT NULL CHECK (state IN ('ORDERED', 'PAID', 'REFUSED')),
    voucher         text NOT NULL DEFAULT '',
    refusal_reason  text NOT NULL DEFAULT '',
    ordered_at      timestamptz NOT NULL,
    settled_at      timestamptz,
    CHECK ((round_id IS NULL) <> (application_id IS NULL)),
    -- a firm is ordered at most once per policy and period
    UNIQUE (policy_id, period, uscc)
);
-- and at most once per exclusive group and period
CREATE UNIQUE INDEX payment_orders_one_per_group
    ON payment_orders (exclusive_group, period, uscc) WHERE exclusive_group IS NOT NULL;
CREATE INDEX payment_orders_uscc ON payment_orders (uscc, id);
