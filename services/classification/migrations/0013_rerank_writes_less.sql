-- Re-ranks that write less (issue 24, item 4).
--
-- `classifications_by_period_key` indexed a value that every row of a period shares: each
-- class row a re-rank wrote (100,000 for a period of 100,000 firms, and again whenever its
-- rank moved) wrote an entry there too, for one query, "the latest period", which now walks
-- the primary key's few distinct periods instead (store::classes::latest_period).
DROP INDEX classifications_by_period_key;

-- The cohorts (segments, stored spelling) whose firms changed since the period's last
-- re-rank: the next re-rank reads and writes only those. NULL: every cohort of the period (a
-- new model, an enterprise's record, or a row written before this column).
ALTER TABLE dirty_periods ADD COLUMN segments text[];

-- What each re-rank wrote: the rows it changed (class, rank, score or record), and the
-- cohorts it re-ranked (NULL: all of them).
ALTER TABLE rerank_runs
    ADD COLUMN rows_written integer NOT NULL DEFAULT 0,
    ADD COLUMN segments text[];
