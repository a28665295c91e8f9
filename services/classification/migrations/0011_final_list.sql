-- The final list (最终结果) of a period: once its objection window has closed and every
-- objection is decided, commerce finalizes it (`finalizations`, once per period). The final
-- list is the published snapshot amended by the upheld objections: `final_amendments` holds
-- each amended firm's class (its latest upheld objection), written in the finalizing
-- transaction and never again. `final_classifications` and `final_class_rows` read like
-- their published counterparts (same columns), so the reads differ only in the view they name.
CREATE TABLE finalizations (
    period       text PRIMARY KEY REFERENCES publications (period),
    finalized_at timestamptz NOT NULL,
    finalized_by text NOT NULL,
    amended      integer NOT NULL CHECK (amended >= 0)
);

CREATE TABLE final_amendments (
    period       text NOT NULL REFERENCES finalizations (period),
    uscc         text NOT NULL,
    class        text NOT NULL CHECK (class IN ('A', 'B', 'C')),
    objection_id bigint NOT NULL REFERENCES objections (id),
    reason       text NOT NULL,
    decided_by   text NOT NULL,
    decided_at   timestamptz NOT NULL,
    PRIMARY KEY (period, uscc)
);

CREATE VIEW final_classifications AS
SELECT p.period, p.uscc, p.period_key, p.name, p.park, p.segment, p.grading, p.computed_class,
       COALESCE(a.class, p.class) AS class, p.score, p.rank, p.sort_rank, p.cohort_size,
       p.model_version, p.reduced_model, p.vetoed,
       CASE WHEN a.uscc IS NULL THEN p.override_class ELSE a.class END AS override_class,
       CASE WHEN a.uscc IS NULL THEN p.override_reason
            ELSE 'objection ' || a.objection_id || ' upheld: ' || a.reason END AS override_reason,
       CASE WHEN a.uscc IS NULL THEN p.override_by ELSE a.decided_by END AS override_by,
       CASE WHEN a.uscc IS NULL THEN p.override_at ELSE a.decided_at END AS override_at,
       p.classified_at, p.registration_date,
       p.employees_total, p.rd_spend_fen, p.revenue_fen, p.industrial_output_fen,
       p.tax_paid_fen, p.export_sales_fen, p.automation_share_percent, p.patents,
       p.land_used_centi_mu, p.energy_use_tce
FROM published_classifications p
JOIN finalizations f ON f.period = p.period
LEFT JOIN final_amendments a ON a.period = p.period AND a.uscc = p.uscc;

CREATE VIEW final_class_rows AS
SELECT c.*, k.benchmarks
FROM final_classifications c
LEFT JOIN published_cohorts k ON k.period = c.period AND k.segment = c.segment;
