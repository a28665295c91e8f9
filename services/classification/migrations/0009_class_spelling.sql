-- The class is stored in the vocabulary's one spelling (platform::Class: 'A', 'B', 'C', the
-- protobuf value name without its prefix) instead of the protobuf number; no class (the
-- number 0, UNSPECIFIED) is NULL. Every row is converted in place; the views that read the
-- columns are dropped first and recreated unchanged.

DROP VIEW current_class_rows;
DROP VIEW published_class_rows;

ALTER TABLE classifications
    ALTER COLUMN computed_class DROP NOT NULL,
    ALTER COLUMN class DROP NOT NULL,
    ALTER COLUMN computed_class TYPE text USING (CASE computed_class WHEN 1 THEN 'A' WHEN 2 THEN 'B' WHEN 3 THEN 'C' END),
    ALTER COLUMN class TYPE text USING (CASE class WHEN 1 THEN 'A' WHEN 2 THEN 'B' WHEN 3 THEN 'C' END),
    ALTER COLUMN override_class TYPE text USING (CASE override_class WHEN 1 THEN 'A' WHEN 2 THEN 'B' WHEN 3 THEN 'C' END),
    ADD CHECK (computed_class IN ('A', 'B', 'C')),
    ADD CHECK (class IN ('A', 'B', 'C')),
    ADD CHECK (override_class IN ('A', 'B', 'C'));

ALTER TABLE published_classifications
    ALTER COLUMN computed_class DROP NOT NULL,
    ALTER COLUMN class DROP NOT NULL,
    ALTER COLUMN computed_class TYPE text USING (CASE computed_class WHEN 1 THEN 'A' WHEN 2 THEN 'B' WHEN 3 THEN 'C' END),
    ALTER COLUMN class TYPE text USING (CASE class WHEN 1 THEN 'A' WHEN 2 THEN 'B' WHEN 3 THEN 'C' END),
    ALTER COLUMN override_class TYPE text USING (CASE override_class WHEN 1 THEN 'A' WHEN 2 THEN 'B' WHEN 3 THEN 'C' END),
    ADD CHECK (computed_class IN ('A', 'B', 'C')),
    ADD CHECK (class IN ('A', 'B', 'C')),
    ADD CHECK (override_class IN ('A', 'B', 'C'));

ALTER TABLE override_audit
    ALTER COLUMN class_before DROP NOT NULL,
    ALTER COLUMN override_class TYPE text USING (CASE override_class WHEN 1 THEN 'A' WHEN 2 THEN 'B' WHEN 3 THEN 'C' END),
    ALTER COLUMN class_before TYPE text USING (CASE class_before WHEN 1 THEN 'A' WHEN 2 THEN 'B' WHEN 3 THEN 'C' END),
    ADD CHECK (override_class IN ('A', 'B', 'C')),
    ADD CHECK (class_before IN ('A', 'B', 'C'));

ALTER TABLE notified_classes
    ALTER COLUMN class DROP NOT NULL,
    ALTER COLUMN class TYPE text USING (CASE class WHEN 1 THEN 'A' WHEN 2 THEN 'B' WHEN 3 THEN 'C' END),
    ADD CHECK (class IN ('A', 'B', 'C'));

ALTER TABLE objections
    ALTER COLUMN class_at_filing DROP NOT NULL,
    ALTER COLUMN requested_class TYPE text USING (CASE requested_class WHEN 1 THEN 'A' WHEN 2 THEN 'B' WHEN 3 THEN 'C' END),
    ALTER COLUMN class_at_filing TYPE text USING (CASE class_at_filing WHEN 1 THEN 'A' WHEN 2 THEN 'B' WHEN 3 THEN 'C' END),
    ALTER COLUMN decided_class TYPE text USING (CASE decided_class WHEN 1 THEN 'A' WHEN 2 THEN 'B' WHEN 3 THEN 'C' END),
    ADD CHECK (requested_class IN ('A', 'B', 'C')),
    ADD CHECK (class_at_filing IN ('A', 'B', 'C')),
    ADD CHECK (decided_class IN ('A', 'B', 'C'));

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
