-- ListNotices filters: the period and the rule of a notice as columns (they were only in
-- the payload), and an index per selective filter with the department and the sequence, so
-- a filtered list reads its own rows newest first instead of the department's whole history.
--
-- Rows stored before this migration have NULL here until the store's start-up backfill
-- (src/store.rs, backfill_filter_columns) fills them from their payload; new rows always
-- carry both ('' when the notice names no period or rule).
ALTER TABLE notices ADD COLUMN period TEXT, ADD COLUMN rule_id TEXT;

CREATE INDEX notices_department_period_seq ON notices (department, period, seq);
CREATE INDEX notices_department_uscc_seq ON notices (department, uscc, seq);
CREATE INDEX notices_department_rule_seq ON notices (department, rule_id, seq);
-- Kind and state have no index: a kind belongs to one or a few rules and a state is computed
-- when read, so those filters walk the department's notices newest first until a page fills.
