-- The read model's segment in the platform's one spelling (platform::Segment: the protobuf
-- value name without its prefix, as census stores it) instead of the protobuf number. A
-- number without a segment (0, unspecified, or one this build does not know) becomes NULL.
-- The class columns already hold the shared spelling ('A', 'B', 'C').
ALTER TABLE enterprises ALTER COLUMN segment DROP DEFAULT;
ALTER TABLE enterprises ALTER COLUMN segment DROP NOT NULL;
ALTER TABLE enterprises ALTER COLUMN segment TYPE text USING CASE segment
    WHEN 1 THEN 'TEXTILE'
    WHEN 2 THEN 'APPAREL'
    WHEN 3 THEN 'LUGGAGE_LEATHER'
    WHEN 4 THEN 'TRADE'
END;
ALTER TABLE enterprises ADD CONSTRAINT enterprises_segment_spelling
    CHECK (segment IN ('TEXTILE', 'APPAREL', 'LUGGAGE_LEATHER', 'TRADE'));
