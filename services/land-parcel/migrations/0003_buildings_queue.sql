-- Buildings split into units, their leases and sales; the land application queue.

CREATE TABLE buildings (
    id          uuid PRIMARY KEY,
    parcel_id   text NOT NULL REFERENCES parcels (id),
    name        text NOT NULL,
    -- [{"number": 1, "area_centi_m2": 200000}, …]
    floors      jsonb NOT NULL,
    total_floor_centi_m2 bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (parcel_id, name)
);

CREATE TABLE units (
    id                   uuid PRIMARY KEY,
    building_id          uuid NOT NULL REFERENCES buildings (id),
    parcel_id            text NOT NULL REFERENCES parcels (id),
    floor                integer NOT NULL,
    part                 text NOT NULL,
    floor_area_centi_m2  bigint NOT NULL,
    unit_use             text NOT NULL,
    -- available, leased, sold
    status               text NOT NULL,
    holder_uscc          text,
    version              bigint NOT NULL DEFAULT 1,
    UNIQUE (building_id, floor, part)
);

-- History of leases and sales.
CREATE TABLE unit_transactions (
    id               bigserial PRIMARY KEY,
    unit_id          uuid NOT NULL REFERENCES units (id),
    kind             text NOT NULL,
    uscc             text NOT NULL,
    term_months      integer,
    yearly_rent_fen  bigint,
    price_fen        bigint,
    recorded_by      text NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE applications (
    id             uuid PRIMARY KEY,
    uscc           text NOT NULL,
    park           text NOT NULL,
    land_use       text NOT NULL,
    area_centi_mu  bigint NOT NULL,
    supply_mode    text NOT NULL,
    purpose        text NOT NULL,
    -- queued, granted
    status         text NOT NULL,
    grant_id       uuid REFERENCES grants (id),
    submitted_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX applications_queued ON applications (park, land_use) WHERE status = 'queued';
