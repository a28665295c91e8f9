-- Idle fees and take-back (闲置土地处置办法), low-efficiency land, long-term lease renewals, and
-- the history of parcels' statuses so a parcel reads as of any time.

ALTER TABLE grants
    -- The idle fee ordered when the grant was found idle: ordered, paid, waived.
    ADD COLUMN idle_fee_fen            bigint,
    ADD COLUMN idle_fee_status         text,
    ADD COLUMN idle_fee_settled_on     date,
    ADD COLUMN idle_fee_waiver_reason  text,
    -- Why the pass put the grant under take-back review (idle_two_years), and when.
    ADD COLUMN take_back_review        text,
    ADD COLUMN take_back_review_on     date,
    ADD COLUMN low_efficiency          boolean NOT NULL DEFAULT false,
    -- When the grant ended, and its status before (what an as-of read before then shows).
    ADD COLUMN ended_at                timestamptz,
    ADD COLUMN status_before_end       text;
CREATE INDEX grants_low_efficiency ON grants (id) WHERE low_efficiency;

-- One decision per grant: a second one is refused by the key whatever the callers do.
CREATE TABLE take_backs (
    grant_id         uuid PRIMARY KEY REFERENCES grants (id),
    parcel_id        text NOT NULL REFERENCES parcels (id),
    review_reason    text NOT NULL,
    reason           text NOT NULL,
    document_number  text NOT NULL,
    decided_on       date NOT NULL,
    decided_by       text NOT NULL,
    -- [{"unit_id": …, "building_id": …, "holder_uscc": …, "status": "leased"}, …]
    units            jsonb NOT NULL,
    decided_at       timestamptz NOT NULL DEFAULT now()
);

-- Every status a parcel had, from when: a parcel reads as of any time.
CREATE TABLE parcel_status_history (
    id          bigserial PRIMARY KEY,
    parcel_id   text NOT NULL REFERENCES parcels (id),
    status      text NOT NULL,
    since       timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX parcel_status_history_by_parcel ON parcel_status_history (parcel_id, since DESC, id DESC);
-- Parcels recorded before this migration: their status now, from their creation (the only
-- history known of them).
INSERT INTO parcel_status_history (parcel_id, status, since)
    SELECT id, status, created_at FROM parcels;
