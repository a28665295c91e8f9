-- Retention: the sweep deletes sent outbox rows and inbox ids past their windows in small
-- batches; these indexes let each batch find its rows without scanning the table.
-- An outbox row's age counts from its creation (not from when it was last sent), so a
-- replayed row is not kept longer than any consumer keeps its id (see retention.rs).
CREATE INDEX outbox_sent_created_at ON outbox (created_at) WHERE sent_at IS NOT NULL;
CREATE INDEX inbox_processed_at ON inbox (processed_at);
