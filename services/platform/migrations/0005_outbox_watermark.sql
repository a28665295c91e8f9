-- The relay records how far it has published instead of rewriting every row it sends.
--
-- An outbox id is taken when a row is inserted, not when its transaction commits, so a row
-- can commit after rows with higher ids have been published: "sent up to id N" would skip it.
-- The watermark is therefore a snapshot of which transactions had committed: every row whose
-- transaction is visible in `outbox_relay.base` has been dealt with (published, or listed in
-- `outbox_retry`). A pass takes a new snapshot (`pass`) and publishes, in id order, the rows
-- visible in it and not in `base`; `through` records its progress (those rows up to that id are
-- dealt with), and when the pass is done `pass` becomes `base`. Each row carries the id of its
-- transaction (`xid`) to be compared with the snapshots.

-- Rows already in the table predate the watermark: a transaction id visible in every snapshot.
ALTER TABLE outbox ADD COLUMN xid xid8 NOT NULL DEFAULT '1';
ALTER TABLE outbox ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
CREATE INDEX outbox_xid ON outbox (xid);

CREATE TABLE outbox_relay (
    singleton BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    base      pg_snapshot NOT NULL,
    pass      pg_snapshot,
    through   BIGINT NOT NULL DEFAULT 0
);
INSERT INTO outbox_relay (base) VALUES (pg_current_snapshot());

-- Rows the watermark has passed that are still to be published: a row the producer refused or
-- whose delivery failed, the later rows of its key held back behind it, and the rows a replay
-- re-queued. The relay publishes them in id order together with the new rows.
CREATE TABLE outbox_retry (
    id BIGINT PRIMARY KEY
);
INSERT INTO outbox_retry (id) SELECT id FROM outbox WHERE sent_at IS NULL;

DROP INDEX outbox_unsent;
DROP INDEX outbox_sent_created_at;
ALTER TABLE outbox DROP COLUMN sent_at;
-- Retention deletes rows by age that the watermark has passed.
CREATE INDEX outbox_created_at ON outbox (created_at);

-- What "unsent" means now, for the backlog gauge, replay, retention, tests and operators: the
-- rows the watermark has not passed, and the rows listed for a retry (the two never overlap).
-- The state is read by scalar subqueries (once per query), so the transaction-id index bounds
-- the scan.
CREATE VIEW outbox_unsent AS
SELECT o.*
FROM outbox o
WHERE o.xid >= pg_snapshot_xmin((SELECT base FROM outbox_relay))
  AND NOT pg_visible_in_snapshot(o.xid, (SELECT base FROM outbox_relay))
  AND NOT coalesce(pg_visible_in_snapshot(o.xid, (SELECT pass FROM outbox_relay))
                   AND o.id <= (SELECT through FROM outbox_relay), false)
UNION ALL
SELECT o.*
FROM outbox o JOIN outbox_retry t ON t.id = o.id;
