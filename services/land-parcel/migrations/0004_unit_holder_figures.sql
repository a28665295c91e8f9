-- A unit holder's latest yearly figures per mu of the land apportioned to its unit, and
-- whether they reach the parcel grant's output and tax commitments.
ALTER TABLE units
    ADD COLUMN holder_year integer,
    ADD COLUMN holder_output_fen_per_mu bigint,
    ADD COLUMN holder_tax_fen_per_mu bigint,
    ADD COLUMN holder_meets_commitments boolean;
