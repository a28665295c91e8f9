-- Parcels, their lineage, grants, milestones and evaluations.

CREATE TABLE parcels (
    id                    text PRIMARY KEY,
    park                  text NOT NULL,
    land_use              text NOT NULL,
    area_centi_mu         bigint NOT NULL CHECK (area_centi_mu > 0),
    plot_ratio_min_milli  bigint NOT NULL,
    plot_ratio_max_milli  bigint NOT NULL,
    -- available, granted, leased, idle, taken_back, ended
    status                text NOT NULL,
    location              text NOT NULL,
    version               bigint NOT NULL DEFAULT 1,
    created_at            timestamptz NOT NULL DEFAULT now(),
    ended_at              timestamptz
);
CREATE INDEX parcels_by_park ON parcels (park, id);

-- Which parcel came from which (split: one parent, many children; merge: the reverse).
CREATE TABLE parcel_lineage (
    parent_id  text NOT NULL REFERENCES parcels (id),
    child_id   text NOT NULL REFERENCES parcels (id),
    PRIMARY KEY (parent_id, child_id)
);
CREATE INDEX parcel_lineage_by_child ON parcel_lineage (child_id);

CREATE TABLE grants (
    id                          uuid PRIMARY KEY,
    parcel_id                   text NOT NULL REFERENCES parcels (id),
    uscc                        text NOT NULL,
    supply_mode                 text NOT NULL,
    lease_years                 integer NOT NULL,
    transfer_years              integer NOT NULL,
    price_fen                   bigint NOT NULL,
    yearly_rent_fen             bigint NOT NULL,
    deposit_fen                 bigint NOT NULL,
    signed_on                   date NOT NULL,
    start_by                    date NOT NULL,
    complete_by                 date NOT NULL,
    production_check_on         date NOT NULL,
    investment_fen_per_mu       bigint NOT NULL,
    output_fen_per_mu           bigint NOT NULL,
    tax_fen_per_mu              bigint NOT NULL,
    plot_ratio_milli            bigint NOT NULL,
    energy_tce_per_wan_yuan     double precision,
    -- The parcel's area when granted: the land the holder is evaluated on.
    land_centi_mu               bigint NOT NULL,
    -- leasing, transferred, ended
    status                      text NOT NULL,
    started_on                  date,
    completed_on                date,
    investment_to_date_fen      bigint NOT NULL DEFAULT 0,
    built_floor_area_centi_m2   bigint NOT NULL DEFAULT 0,
    last_progress_on            date,
    idle_reason                 text,
    idle_on                     date,
    rent_credited_fen           bigint NOT NULL DEFAULT 0,
    granted_at                  timestamptz NOT NULL DEFAULT now(),
    version                     bigint NOT NULL DEFAULT 1
);
-- One grant in force per parcel, whatever the callers do at the same time.
CREATE UNIQUE INDEX grants_one_in_force_per_parcel ON grants (parcel_id)
    WHERE status IN ('leasing', 'transferred');
CREATE INDEX grants_in_force_by_holder ON grants (uscc) WHERE status <> 'ended';

CREATE TABLE milestones (
    id                          bigserial PRIMARY KEY,
    grant_id                    uuid NOT NULL REFERENCES grants (id),
    kind                        text NOT NULL,
    on_date                     date NOT NULL,
    investment_to_date_fen      bigint NOT NULL,
    built_floor_area_centi_m2   bigint NOT NULL,
    recorded_by                 text NOT NULL,
    recorded_at                 timestamptz NOT NULL DEFAULT now()
);

-- Every evaluation is kept, so a grant's history can be read as of any time.
CREATE TABLE evaluations (
    id                    uuid PRIMARY KEY,
    seq                   bigserial UNIQUE,
    grant_id              uuid NOT NULL REFERENCES grants (id),
    uscc                  text NOT NULL,
    year                  integer NOT NULL,
    revision              bigint NOT NULL,
    outcome               text NOT NULL,
    all_met               boolean NOT NULL,
    damages_fen           bigint NOT NULL,
    rectification_due_on  date,
    evaluated_on          date NOT NULL,
    items                 jsonb NOT NULL,
    recorded_at           timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX evaluations_by_grant ON evaluations (grant_id, seq DESC);
