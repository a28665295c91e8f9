-- Fairs, their booth inventory, invitations, registrations, outcomes, subsidies, and the
-- read model kept from census and classification events.

CREATE TABLE fairs (
    id                         uuid PRIMARY KEY,
    name                       text NOT NULL,
    kind                       text NOT NULL,
    city                       text NOT NULL,
    venue                      text NOT NULL,
    market                     text NOT NULL,
    starts_at                  timestamptz NOT NULL,
    ends_at                    timestamptz NOT NULL,
    opens_at                   timestamptz NOT NULL,
    closes_at                  timestamptz NOT NULL,
    mode                       text NOT NULL,
    small_firm_reserve_percent integer NOT NULL CHECK (small_firm_reserve_percent BETWEEN 0 AND 100),
    a_class_reserve_percent    integer NOT NULL CHECK (a_class_reserve_percent BETWEEN 0 AND 100),
    per_firm_cap               integer NOT NULL CHECK (per_firm_cap > 0),
    version                    bigint NOT NULL DEFAULT 1,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    -- A scored fair's allocation ran.
    allocated_at               timestamptz,
    -- A first-come fair's unused reserves went to the general pool (the window closed).
    reserves_released_at       timestamptz,
    CHECK (starts_at < ends_at AND opens_at < closes_at AND closes_at <= starts_at)
);
CREATE INDEX fairs_by_start ON fairs (starts_at, id);

-- `taken` counts confirmed booths and booths held by open offers; the check is the last
-- line against over-allocation (the fair row is also locked by every allocating write).
CREATE TABLE booth_inventory (
    fair_id    uuid NOT NULL REFERENCES fairs (id) ON DELETE CASCADE,
    booth_type text NOT NULL,
    capacity   integer NOT NULL CHECK (capacity > 0),
    fee_fen    bigint NOT NULL CHECK (fee_fen >= 0),
    taken      integer NOT NULL DEFAULT 0,
    PRIMARY KEY (fair_id, booth_type),
    CHECK (taken >= 0 AND taken <= capacity)
);

CREATE TABLE invitations (
    fair_id          uuid NOT NULL REFERENCES fairs (id) ON DELETE CASCADE,
    uscc             text NOT NULL,
    enterprise_class text NOT NULL,
    reason           text NOT NULL,
    status           text NOT NULL CHECK (status IN ('issued', 'applied', 'withdrawn')),
    issued_at        timestamptz NOT NULL,
    withdrawn_at     timestamptz,
    PRIMARY KEY (fair_id, uscc)
);
CREATE INDEX invitations_by_uscc ON invitations (uscc);

CREATE TABLE registrations (
    id                   uuid PRIMARY KEY,
    fair_id              uuid NOT NULL REFERENCES fairs (id) ON DELETE CASCADE,
    uscc                 text NOT NULL,
    booth_type           text NOT NULL,
    booths_requested     integer NOT NULL CHECK (booths_requested > 0),
    status               text NOT NULL CHECK (status IN ('applied', 'confirmed', 'waitlisted', 'offered', 'cancelled')),
    -- Booths held, by the pool they came from (all zero unless confirmed or offered).
    from_general         integer NOT NULL DEFAULT 0 CHECK (from_general >= 0),
    from_small           integer NOT NULL DEFAULT 0 CHECK (from_small >= 0),
    from_a_class         integer NOT NULL DEFAULT 0 CHECK (from_a_class >= 0),
    -- As known when it applied.
    enterprise_class     text,
    small_firm           boolean NOT NULL,
    invited_a            boolean NOT NULL,
    applied_at           timestamptz NOT NULL,
    confirmed_at         timestamptz,
    offer_expires_at     timestamptz,
    cancelled_at         timestamptz,
    cancellation_reason  text NOT NULL DEFAULT '',
    cancellation_fee_fen bigint NOT NULL DEFAULT 0,
    explanation          text NOT NULL DEFAULT '',
    -- No firm applies twice for one fair.
    UNIQUE (fair_id, uscc),
    FOREIGN KEY (fair_id, booth_type) REFERENCES booth_inventory (fair_id, booth_type)
);
CREATE INDEX registrations_by_uscc ON registrations (uscc);
CREATE INDEX open_offers ON registrations (offer_expires_at) WHERE status = 'offered';

CREATE TABLE outcomes (
    registration_id          uuid PRIMARY KEY REFERENCES registrations (id),
    fair_id                  uuid NOT NULL REFERENCES fairs (id),
    uscc                     text NOT NULL,
    leads                    integer NOT NULL CHECK (leads >= 0),
    intended_orders_fen      bigint NOT NULL CHECK (intended_orders_fen >= 0),
    signed_export_orders_fen bigint NOT NULL CHECK (signed_export_orders_fen >= 0),
    recorded_at              timestamptz NOT NULL
);

-- `granted_fen <= budget_fen` makes overspending impossible, whatever runs concurrently.
CREATE TABLE subsidy_budgets (
    year        integer PRIMARY KEY,
    budget_fen  bigint NOT NULL CHECK (budget_fen >= 0),
    granted_fen bigint NOT NULL DEFAULT 0,
    CHECK (granted_fen >= 0 AND granted_fen <= budget_fen)
);

CREATE TABLE subsidies (
    registration_id uuid PRIMARY KEY REFERENCES registrations (id),
    fair_id         uuid NOT NULL REFERENCES fairs (id),
    uscc            text NOT NULL,
    year            integer NOT NULL REFERENCES subsidy_budgets (year),
    amount_fen      bigint NOT NULL CHECK (amount_fen > 0),
    percent         integer NOT NULL,
    limited_by      text[] NOT NULL DEFAULT '{}',
    granted_at      timestamptz NOT NULL
);
CREATE INDEX subsidies_by_firm_year ON subsidies (uscc, year);

-- Read model from census events.
CREATE TABLE enterprises (
    uscc                 text PRIMARY KEY,
    name                 text NOT NULL DEFAULT '',
    small_firm           boolean NOT NULL DEFAULT false,
    tax_credit_violation boolean NOT NULL DEFAULT false,
    segment              integer NOT NULL DEFAULT 0,
    -- The census record's version; 0 while only returns were seen.
    record_version       bigint NOT NULL DEFAULT 0
);

CREATE TABLE census_exports (
    uscc             text NOT NULL,
    period           text NOT NULL,
    revision         bigint NOT NULL,
    export_sales_fen bigint NOT NULL,
    PRIMARY KEY (uscc, period)
);

-- Read model from classification events: the class of the latest period.
CREATE TABLE enterprise_classes (
    uscc             text PRIMARY KEY,
    enterprise_class text,
    period           text NOT NULL,
    -- Period::completion_key of `period`: a class of an older period never replaces a newer.
    period_key       integer NOT NULL,
    classified_at    timestamptz NOT NULL
);
CREATE INDEX class_a ON enterprise_classes (uscc) WHERE enterprise_class = 'A';
