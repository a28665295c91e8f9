-- The objection window a publication announced, in working days: at least the configured one
-- (a bureau may give firms more time, never less; 0, no window, only in development mode).
-- NULL for publications made before this column: they keep the configured window.
ALTER TABLE publications
    ADD COLUMN objection_working_days integer
        CHECK (objection_working_days BETWEEN 0 AND 30);
