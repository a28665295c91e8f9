-- One stored spelling for the words the services share (platform::{Park, Segment, Class}):
-- the protobuf value name without its prefix. Parks and segments were stored in lower case
-- here (`xiliu`, `luggage_leather`); classes were already `A`, `B`, `C`.
UPDATE enterprises SET segment = upper(segment) WHERE segment IS NOT NULL AND segment <> upper(segment);
UPDATE enterprises SET park = upper(park) WHERE park IS NOT NULL AND park <> upper(park);
UPDATE parcels SET park = upper(park) WHERE park <> upper(park);
UPDATE applications SET park = upper(park) WHERE park <> upper(park);
UPDATE classes SET class = upper(class) WHERE class IS NOT NULL AND class <> upper(class);
