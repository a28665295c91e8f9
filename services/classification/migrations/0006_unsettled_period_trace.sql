-- The trace context of the change that left a period unsettled: its settle continues that
-- trace, so one trace still runs from a census call to the notices it causes.
ALTER TABLE unsettled_periods ADD COLUMN trace_headers jsonb NOT NULL DEFAULT '{}';
