-- Publication (公示) of a period's ranking. A period is published once (`publications`); the
-- snapshot tables hold the ranking as published, copied in the publishing transaction under
-- the period's lock: every classification with the figures and registration date its
-- explanation reads, and the cohorts' benchmarks. Nothing writes them afterwards, so an
-- "as published" answer never changes, whatever later returns, re-ranks or overrides do.
CREATE TABLE publications (
    period        text PRIMARY KEY,
    published_at  timestamptz NOT NULL,
    published_by  text NOT NULL,
    model_version bigint NOT NULL,
    note          text NOT NULL DEFAULT ''
);

-- The columns of `classifications`, then the read model's columns an explanation needs.
CREATE TABLE published_classifications (
    period                   text NOT NULL REFERENCES publications (period),
    uscc                     text NOT NULL,
    period_key               integer NOT NULL,
    name                     text NOT NULL,
    park                     integer NOT NULL,
    segment                  integer NOT NULL,
    grading                  smallint NOT NULL,
    computed_class           smallint NOT NULL,
    class                    smallint NOT NULL,
    score                    double precision NOT NULL,
    rank                     integer NOT NULL,
    sort_rank                integer GENERATED ALWAYS AS (CASE WHEN rank > 0 THEN rank ELSE 2147483647 END) STORED,
    cohort_size              integer NOT NULL,
    model_version            bigint NOT NULL,
    reduced_model            boolean NOT NULL,
    vetoed                   boolean NOT NULL,
    override_class           smallint,
    override_reason          text,
    override_by              text,
    override_at              timestamptz,
    classified_at            timestamptz NOT NULL,
    registration_date        date,
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
    PRIMARY KEY (period, uscc)
);
CREATE INDEX published_classifications_listing ON published_classifications (period, segment, sort_rank, uscc);
CREATE INDEX published_classifications_by_uscc ON published_classifications (uscc, period_key DESC);

-- The cohorts' benchmarks as published.
CREATE TABLE published_cohorts (
    period        text NOT NULL REFERENCES publications (period),
    segment       integer NOT NULL,
    model_version bigint NOT NULL,
    cohort_size   integer NOT NULL,
    benchmarks    double precision[] NOT NULL,
    ranked_at     timestamptz NOT NULL,
    PRIMARY KEY (period, segment)
);

-- What a read of classes answers from, one view per ranking with the same columns (those of
-- store::classes::ClassRow, and period_key): the API's queries differ only in the view they
-- name (store::publication::View). The current one is also what a publication copies.
CREATE VIEW current_class_rows AS
SELECT c.period, c.uscc, c.period_key, c.name, c.park, c.segment, c.grading, c.computed_class,
       c.class, c.score, c.rank, c.sort_rank, c.cohort_size, c.model_version, c.reduced_model,
       c.vetoed, c.override_class, c.override_reason, c.override_by, c.override_at,
       c.classified_at, e.registration_date,
       r.employees_total, r.rd_spend_fen, r.revenue_fen, r.industrial_output_fen,
       r.tax_paid_fen, r.export_sales_fen, r.automation_share_percent, r.patents,
       r.land_used_centi_mu, r.energy_use_tce, k.benchmarks
FROM classifications c
JOIN census_returns r ON r.period = c.period AND r.uscc = c.uscc
JOIN enterprises e ON e.uscc = c.uscc
LEFT JOIN cohorts k ON k.period = c.period AND k.segment = c.segment;

CREATE VIEW published_class_rows AS
SELECT c.period, c.uscc, c.period_key, c.name, c.park, c.segment, c.grading, c.computed_class,
       c.class, c.score, c.rank, c.sort_rank, c.cohort_size, c.model_version, c.reduced_model,
       c.vetoed, c.override_class, c.override_reason, c.override_by, c.override_at,
       c.classified_at, c.registration_date,
       c.employees_total, c.rd_spend_fen, c.revenue_fen, c.industrial_output_fen,
       c.tax_paid_fen, c.export_sales_fen, c.automation_share_percent, c.patents,
       c.land_used_centi_mu, c.energy_use_tce, k.benchmarks
FROM published_classifications c
LEFT JOIN published_cohorts k ON k.period = c.period AND k.segment = c.segment;
