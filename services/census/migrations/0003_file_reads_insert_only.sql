-- The file-read audit is insert-only for the service's runtime role (platform::db::grant_runtime
-- narrows every table whose comment begins with 'insert-only').
COMMENT ON TABLE file_reads IS 'insert-only: audit of enterprise file reads';
