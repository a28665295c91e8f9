-- The census period a class is for: the queue uses the class of the latest period, whatever
-- order the re-ranks of different periods arrive in.
ALTER TABLE classes ADD COLUMN period text NOT NULL DEFAULT '';
