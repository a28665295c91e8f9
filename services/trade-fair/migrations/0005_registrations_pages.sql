-- ListRegistrations reads a page at a time (keyset paging). By application time: without an
-- index on the fair and that order every page read the fair's registrations from the start
-- (the only index on fair_id left out the cancelled). In waitlist order (the status filter
-- WAITLISTED, and the positions a page of any order shows): booth type, class, application
-- time, id, as `store::registrations` spells the two ranks.
CREATE INDEX registrations_by_time ON registrations (fair_id, applied_at, id);
CREATE INDEX registrations_waitlist ON registrations (
    fair_id,
    (CASE booth_type WHEN 'standard' THEN 0 WHEN 'brand' THEN 1 ELSE 2 END),
    (CASE enterprise_class WHEN 'A' THEN 0 WHEN 'B' THEN 1 WHEN 'C' THEN 2 ELSE 3 END),
    applied_at,
    id
) WHERE status = 'waitlisted';
