-- Versions of the classification model; the highest version is in force.
CREATE TABLE models (
    version    bigint PRIMARY KEY CHECK (version > 0),
    definition jsonb NOT NULL,
    note       text NOT NULL DEFAULT '',
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
