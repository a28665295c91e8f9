-- What a single submission is decided from, in one round trip instead of four (the lock, the
-- clock and two lookups; BENCHMARKS.md, SubmitReturn): the enterprise's row lock first, then,
-- in statements of their own and so in snapshots taken after the lock, its current record,
-- the clock, the latest revision of (uscc, period) and whether the request id is taken. Read
-- in one statement with the lock, the lookups would see the table as it was before the lock
-- was granted and miss what the writer ahead had just committed.
--
-- One row always, with NULL enterprise columns when no enterprise has this USCC.
CREATE FUNCTION census_submission_context(p_uscc TEXT, p_period TEXT, p_request_id TEXT)
RETURNS TABLE (
    uscc                    TEXT,
    version                 BIGINT,
    name                    TEXT,
    legal_representative    TEXT,
    park                    TEXT,
    industry_class          TEXT,
    size                    TEXT,
    registration_date       DATE,
    status                  TEXT,
    deregistration_reason   TEXT,
    safety_violation        BOOLEAN,
    environmental_violation BOOLEAN,
    tax_credit_violation    BOOLEAN,
    recorded_at             TIMESTAMPTZ,
    created_at              TIMESTAMPTZ,
    now                     TIMESTAMPTZ,
    last_revision           BIGINT,
    request_id_taken        BOOLEAN
)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    PERFORM 1 FROM enterprises e WHERE e.uscc = p_uscc FOR UPDATE;
    RETURN QUERY
    SELECT v.uscc, v.version, v.name, v.legal_representative, v.park, v.industry_class, v.size,
           v.registration_date, v.status, v.deregistration_reason, v.safety_violation,
           v.environmental_violation, v.tax_credit_violation, v.recorded_at, e.created_at,
           clock_timestamp(),
           (SELECT max(r.revision) FROM census_returns r
            WHERE r.uscc = p_uscc AND r.period = p_period),
           EXISTS (SELECT 1 FROM census_returns r WHERE r.client_request_id = p_request_id)
    FROM (SELECT) AS one
    LEFT JOIN (enterprises e JOIN enterprise_versions v
               ON v.uscc = e.uscc AND v.version = e.current_version)
      ON e.uscc = p_uscc;
END
$$;
