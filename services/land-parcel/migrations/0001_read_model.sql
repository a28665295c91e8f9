-- What the service knows of enterprises from census and classification events. No other
-- service's tables are read: this is kept from the events alone.

-- Enterprises from census events (registered, updated, and the fields a return carries).
CREATE TABLE enterprises (
    uscc        text PRIMARY KEY,
    name        text NOT NULL,
    active      boolean NOT NULL,
    -- Segment (textile, apparel, luggage_leather, trade); NULL when outside the cluster.
    segment     text,
    park        text,
    -- Version of the census record last applied; an older one never overwrites a newer.
    version     bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The latest revision of each yearly census return: the figures evaluations use.
CREATE TABLE census_returns (
    uscc          text NOT NULL,
    year          integer NOT NULL,
    revision      bigint NOT NULL,
    output_fen    bigint NOT NULL,
    tax_fen       bigint NOT NULL,
    energy_tce    double precision,
    submitted_at  timestamptz NOT NULL,
    PRIMARY KEY (uscc, year)
);

-- Classes from classification events, for the land queue.
CREATE TABLE classes (
    uscc           text PRIMARY KEY,
    -- A, B, C; NULL when not graded.
    class          text,
    score          double precision NOT NULL,
    classified_at  timestamptz NOT NULL
);
