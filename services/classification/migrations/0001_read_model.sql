-- The read model kept from census events: enterprises and their latest return per period,
-- and the periods whose classification is out of date.

CREATE TABLE enterprises (
    uscc                    text PRIMARY KEY,
    name                    text NOT NULL,
    park                    integer NOT NULL,      -- haicheng.common.v1.Park
    segment                 integer NOT NULL,      -- haicheng.common.v1.Segment: the cohort
    industry_class          text NOT NULL,
    registration_date       date,
    active                  boolean NOT NULL,      -- false once deregistered
    safety_violation        boolean NOT NULL DEFAULT false,
    environmental_violation boolean NOT NULL DEFAULT false,
    tax_credit_violation    boolean NOT NULL DEFAULT false,
    record_version          bigint NOT NULL,       -- the census record's version; older updates are ignored
    updated_at              timestamptz NOT NULL DEFAULT now()
);

-- The latest revision of each enterprise's return per period (older revisions are ignored).
CREATE TABLE census_returns (
    period                   text NOT NULL,
    uscc                     text NOT NULL,
    revision                 bigint NOT NULL,
    employees_total          bigint NOT NULL,
    rd_spend_fen             bigint NOT NULL,
    revenue_fen              bigint NOT NULL,
    industrial_output_fen    bigint NOT NULL,
    tax_paid_fen             bigint NOT NULL,
    export_sales_fen         bigint NOT NULL,
    automation_share_percent double precision NOT NULL,
    patents                  bigint NOT NULL,
    land_used_centi_mu       bigint NOT NULL,
    energy_use_tce           double precision,
    submitted_at             timestamptz,
    received_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (period, uscc)
);
CREATE INDEX census_returns_by_uscc ON census_returns (uscc);

-- Periods changed since their last re-rank. `generation` counts changes, so a re-rank
-- removes the row only if nothing changed while it ran; the two times drive the debounce.
CREATE TABLE dirty_periods (
    period         text PRIMARY KEY,
    generation     bigint NOT NULL,
    first_dirty_at timestamptz NOT NULL,
    last_dirty_at  timestamptz NOT NULL
);
