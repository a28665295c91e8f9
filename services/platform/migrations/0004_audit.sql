-- Audit log: every refused call, every read of enterprise data and every notice read
-- (platform::audit). The service's runtime role may only INSERT and SELECT here: the grants
-- the migrate command gives it (platform::db::grant_runtime) leave out UPDATE, DELETE and
-- TRUNCATE on every table whose comment begins with 'insert-only'.
CREATE TABLE audit_log (
    id        BIGSERIAL   PRIMARY KEY,
    at        TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    service   TEXT        NOT NULL,
    -- The gRPC path, `/haicheng.census.v1.CensusService/GetEnterpriseFile`.
    method    TEXT        NOT NULL,
    -- `department:finance`, `service:census-import`, `enterprise:<USCC>` or `anonymous`;
    -- never the credential.
    principal TEXT        NOT NULL,
    -- The caller's address as the server saw it; NULL when unknown.
    peer      TEXT,
    -- The gRPC status code name (`OK`, `PERMISSION_DENIED`, …).
    code      TEXT        NOT NULL,
    -- The enterprise whose data was read, when the call named one.
    uscc      TEXT,
    -- What else the handler said about the read: filters, ids, counts.
    detail    JSONB       NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE audit_log IS 'insert-only: audit records, pruned only through audit_prune';

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_principal_at ON audit_log (principal, at);
CREATE INDEX audit_log_uscc_at ON audit_log (uscc, at) WHERE uscc IS NOT NULL;

-- Retention: the runtime role cannot delete, so it prunes through this function, which runs
-- with its owner's rights (the migrating role) and never deletes a row younger than 183 days
-- (the Cybersecurity Law keeps network logs at least six months), whatever it is asked.
-- At most `batch` rows per call, so a sweep never holds many row locks.
CREATE FUNCTION audit_prune(keep interval, batch integer) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH gone AS (
        DELETE FROM public.audit_log WHERE id IN (
            SELECT id FROM public.audit_log
            WHERE at < now() - GREATEST(keep, interval '183 days')
            ORDER BY at
            LIMIT GREATEST(batch, 1)
            FOR UPDATE SKIP LOCKED)
        RETURNING 1)
    SELECT count(*) FROM gone
$$;
REVOKE ALL ON FUNCTION audit_prune(interval, integer) FROM PUBLIC;
