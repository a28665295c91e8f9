-- The booths a fair's type holds are summed over its confirmed and offered registrations at
-- every application; without an index of its own that sum read every registration of the fair,
-- so applications cost time in the fair's size (BENCHMARKS.md, how cost grows).
CREATE INDEX registrations_holding ON registrations (fair_id, booth_type)
    WHERE status IN ('confirmed', 'offered');
