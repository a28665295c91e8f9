-- The park and the segment are stored in the vocabulary's one spelling (platform::Park:
-- 'XILIU', …; platform::Segment: 'TEXTILE', …, the protobuf value name without its prefix,
-- as census stores them) instead of the protobuf number. A number without a word (0,
-- UNSPECIFIED, or one this build does not know) becomes NULL. Every row is converted in
-- place; the views that read the columns are dropped first and recreated unchanged.
--
-- Listings and distributions keep their order, the contract's (TEXTILE, APPAREL,
-- LUGGAGE_LEATHER, TRADE; XILIU, NANTAI, GANWANG, ZHONGXIAO): `segment_number` and
-- `park_number` give the protobuf number of a spelling (0 for NULL), and the listing
-- indexes order by it.

CREATE FUNCTION park_number(park text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE park WHEN 'XILIU' THEN 1 WHEN 'NANTAI' THEN 2 WHEN 'GANWANG' THEN 3 WHEN 'ZHONGXIAO' THEN 4 ELSE 0 END $$;

CREATE FUNCTION segment_number(segment text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE segment WHEN 'TEXTILE' THEN 1 WHEN 'APPAREL' THEN 2 WHEN 'LUGGAGE_LEATHER' THEN 3 WHEN 'TRADE' THEN 4 ELSE 0 END $$;

DROP VIEW current_class_rows;
DROP VIEW published_class_rows;
DROP INDEX classifications_listing;
DROP INDEX published_classifications_listing;

ALTER TABLE enterprises
    ALTER COLUMN park DROP NOT NULL,
    ALTER COLUMN segment DROP NOT NULL,
    ALTER COLUMN park TYPE text USING (CASE park WHEN 1 THEN 'XILIU' WHEN 2 THEN 'NANTAI' WHEN 3 THEN 'GANWANG' WHEN 4 THEN 'ZHONGXIAO' END),
    ALTER COLUMN segment TYPE text USING (CASE segment WHEN 1 THEN 'TEXTILE' WHEN 2 THEN 'APPAREL' WHEN 3 THEN 'LUGGAGE_LEATHER' WHEN 4 THEN 'TRADE' END),
    ADD CHECK (park IN ('XILIU', 'NANTAI', 'GANWANG', 'ZHONGXIAO')),
    ADD CHECK (segment IN ('TEXTILE', 'APPAREL', 'LUGGAGE_LEATHER', 'TRADE'));

ALTER TABLE classifications
    ALTER COLUMN park DROP NOT NULL,
    ALTER COLUMN segment DROP NOT NULL,
    ALTER COLUMN park TYPE text USING (CASE park WHEN 1 THEN 'XILIU' WHEN 2 THEN 'NANTAI' WHEN 3 THEN 'GANWANG' WHEN 4 THEN 'ZHONGXIAO' END),
    ALTER COLUMN segment TYPE text USING (CASE segment WHEN 1 THEN 'TEXTILE' WHEN 2 THEN 'APPAREL' WHEN 3 THEN 'LUGGAGE_LEATHER' WHEN 4 THEN 'TRADE' END),
    ADD CHECK (park IN ('XILIU', 'NANTAI', 'GANWANG', 'ZHONGXIAO')),
    ADD CHECK (segment IN ('TEXTILE', 'APPAREL', 'LUGGAGE_LEATHER', 'TRADE'));

ALTER TABLE published_classifications
    ALTER COLUMN park DROP NOT NULL,
    ALTER COLUMN segment DROP NOT NULL,
    ALTER COLUMN park TYPE text USING (CASE park WHEN 1 THEN 'XILIU' WHEN 2 THEN 'NANTAI' WHEN 3 THEN 'GANWANG' WHEN 4 THEN 'ZHONGXIAO' END),
    ALTER COLUMN segment TYPE text USING (CASE segment WHEN 1 THEN 'TEXTILE' WHEN 2 THEN 'APPAREL' WHEN 3 THEN 'LUGGAGE_LEATHER' WHEN 4 THEN 'TRADE' END),
    ADD CHECK (park IN ('XILIU', 'NANTAI', 'GANWANG', 'ZHONGXIAO')),
    ADD CHECK (segment IN ('TEXTILE', 'APPAREL', 'LUGGAGE_LEATHER', 'TRADE'));

-- A cohort is a segment (part of the key): never NULL; re-ranks only ever wrote real ones.
ALTER TABLE cohorts
    ALTER COLUMN segment TYPE text USING (CASE segment WHEN 1 THEN 'TEXTILE' WHEN 2 THEN 'APPAREL' WHEN 3 THEN 'LUGGAGE_LEATHER' WHEN 4 THEN 'TRADE' END),
    ADD CHECK (segment IN ('TEXTILE', 'APPAREL', 'LUGGAGE_LEATHER', 'TRADE'));

ALTER TABLE published_cohorts
    ALTER COLUMN segment TYPE text USING (CASE segment WHEN 1 THEN 'TEXTILE' WHEN 2 THEN 'APPAREL' WHEN 3 THEN 'LUGGAGE_LEATHER' WHEN 4 THEN 'TRADE' END),
    ADD CHECK (segment IN ('TEXTILE', 'APPAREL', 'LUGGAGE_LEATHER', 'TRADE'));

CREATE INDEX classifications_listing
    ON classifications (period, segment_number(segment), sort_rank, uscc);
CREATE INDEX published_classifications_listing
    ON published_classifications (period, segment_number(segment), sort_rank, uscc);

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
