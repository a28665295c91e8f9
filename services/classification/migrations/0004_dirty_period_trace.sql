-- The trace context of the latest change of a dirty period: the coalesced re-rank continues
-- that trace, so one trace runs from a census call to the notices it causes.
ALTER TABLE dirty_periods ADD COLUMN trace_headers jsonb NOT NULL DEFAULT '{}';
