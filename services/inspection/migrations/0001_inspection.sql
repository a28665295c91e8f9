-- The inspection service's own tables: item lists and rosters per department, plans with
-- their seeds, tasks and the visits they are placed into, results, open rectifications,
-- anonymous ratings; and the read model of the facts the tiers read, kept from other
-- services' events (never their tables).

-- ---- Read model (census, classification and land events, through the inbox) ----

CREATE TABLE firms (
    uscc               text PRIMARY KEY,
    name               text NOT NULL DEFAULT '',
    veto               boolean NOT NULL DEFAULT false,
    deregistered       boolean NOT NULL DEFAULT false,
    -- the census record's version: an older event never overwrites a newer one
    census_version     bigint NOT NULL DEFAULT 0,
    class              text CHECK (class IN ('A', 'B', 'C')),
    -- the period of the class in force (platform::Period::completion_key) and when it was
    -- classified: the latest period's class is in force, and within a period the latest
    -- classification; a re-rank of an earlier period never overwrites a later one's class
    class_period_key   integer,
    classified_at      timestamptz,
    -- derived (domain::tier::assess), kept for the lists
    tier               text NOT NULL DEFAULT 'B' CHECK (tier IN ('A', 'B', 'C', 'D')),
    white_listed       boolean NOT NULL DEFAULT false,
    tier_reason        text NOT NULL DEFAULT '',
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Whether each grant is short at its latest evaluation.
CREATE TABLE land_grants (
    grant_id    text PRIMARY KEY,
    uscc        text NOT NULL,
    short       boolean NOT NULL,
    recorded_at timestamptz NOT NULL
);
CREATE INDEX land_grants_uscc ON land_grants (uscc);

-- ---- Item lists and rosters ----

CREATE TABLE items (
    department  text NOT NULL,
    code        text NOT NULL,
    title       text NOT NULL,
    legal_basis text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('ROUTINE', 'SPECIAL', 'TRIGGERED')),
    safety      boolean NOT NULL,
    off_site    boolean NOT NULL,
    documents   text[] NOT NULL,
    version     bigint NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (department, code)
);

CREATE TABLE inspectors (
    department text NOT NULL,
    id         text NOT NULL,
    name       text NOT NULL,
    PRIMARY KEY (department, id)
);

-- ---- Plans, tasks, visits ----

CREATE TABLE plans (
    code        text PRIMARY KEY,
    department  text NOT NULL,
    year        integer NOT NULL,
    -- the seed of the draw, as a signed 64-bit (the u64's bits)
    seed        bigint NOT NULL,
    item_codes  text[] NOT NULL,
    -- [{tier, ratio_bp, population, drawn}]
    tiers       jsonb NOT NULL,
    filed_at    timestamptz NOT NULL,
    filed_by    text NOT NULL,
    UNIQUE (department, year)
);

CREATE TABLE visits (
    id               uuid PRIMARY KEY,
    uscc             text NOT NULL,
    name             text NOT NULL,
    year             integer NOT NULL,
    visit_on         date NOT NULL,
    on_site          boolean NOT NULL,
    state            text NOT NULL CHECK (state IN ('PROPOSED', 'APPROVED', 'RECORDED', 'PUBLISHED')),
    code             text UNIQUE,
    code_valid_until date,
    version          bigint NOT NULL,
    approved_at      timestamptz,
    -- whether the firm has rated it; the rating itself is kept apart (ratings)
    rated            boolean NOT NULL DEFAULT false,
    -- the result: outcome, findings, summary, who, when, publish_by, published_at, re-checks
    result           jsonb,
    publish_by       date,
    published_at     timestamptz
);
CREATE INDEX visits_firm_year ON visits (uscc, year);
CREATE INDEX visits_year ON visits (year);

CREATE TABLE tasks (
    id                  uuid PRIMARY KEY,
    department          text NOT NULL,
    uscc                text NOT NULL,
    name                text NOT NULL,
    year                integer NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('ROUTINE', 'SPECIAL', 'TRIGGERED')),
    item_codes          text[] NOT NULL,
    planned_on          date NOT NULL,
    -- [{id, name, department}]
    inspectors          jsonb NOT NULL,
    exemption           text,
    exemption_reference text NOT NULL DEFAULT '',
    plan_code           text REFERENCES plans (code),
    state               text NOT NULL CHECK (state IN ('PLACED', 'REFUSED', 'DONE')),
    visit_id            uuid REFERENCES visits (id),
    refusal             text NOT NULL DEFAULT '',
    off_site            boolean NOT NULL,
    tier                text NOT NULL CHECK (tier IN ('A', 'B', 'C', 'D')),
    created_at          timestamptz NOT NULL,
    CHECK ((state = 'REFUSED') = (visit_id IS NULL)),
    CHECK (exemption IS NULL OR exemption_reference <> '')
);
CREATE INDEX tasks_visit ON tasks (visit_id);
CREATE INDEX tasks_firm_year ON tasks (uscc, year);

-- Findings not yet re-checked: the firm is off the white list while one is open.
CREATE TABLE rectifications (
    visit_id   uuid PRIMARY KEY REFERENCES visits (id),
    uscc       text NOT NULL,
    rectify_by date NOT NULL,
    closed     boolean NOT NULL DEFAULT false
);
CREATE INDEX rectifications_open ON rectifications (uscc) WHERE NOT closed;

-- Ratings, kept apart from their visits: no visit, no firm, no time; only the year and the
-- departments, so no one can learn who rated.
CREATE TABLE ratings (
    id           uuid PRIMARY KEY,
    year         integer NOT NULL,
    departments  text[] NOT NULL,
    satisfaction text NOT NULL CHECK (satisfaction IN ('SATISFIED', 'NEUTRAL', 'UNSATISFIED')),
    text         text NOT NULL
);
