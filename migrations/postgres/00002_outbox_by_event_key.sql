-- The outbox row of an event is identified by the event's key (Postgres).
-- Keep migrations/sqlite/00002_outbox_by_event_key.sql in step.
--
-- Ingest now writes a whole group's outbox rows in one statement and learns
-- no ids back, so the relay marks rows applied by event key: the key becomes
-- unique. MarkApplied deletes applied rows, so applied_at has no use left:
-- rows that still carry it were marked by an older Podium and go with it,
-- and every remaining row is pending.
--
-- No event key can have two pending rows (each is written in the same
-- transaction as its unique event), but should one exist the oldest is
-- kept: boards ignore a second apply of the same event id anyway.

-- +goose Up
DELETE FROM outbox WHERE applied_at IS NOT NULL;
DELETE FROM outbox WHERE id NOT IN (SELECT MIN(id) FROM outbox GROUP BY event_key);
DROP INDEX outbox_pending_idx;
ALTER TABLE outbox DROP COLUMN applied_at;
CREATE UNIQUE INDEX outbox_event_key_idx ON outbox (event_key);
-- "Pending, oldest first": every row is pending now.
CREATE INDEX outbox_pending_idx ON outbox (created_at, id);

-- +goose Down
DROP INDEX outbox_pending_idx;
DROP INDEX outbox_event_key_idx;
ALTER TABLE outbox ADD COLUMN applied_at BIGINT;
CREATE INDEX outbox_pending_idx ON outbox (created_at, id) WHERE applied_at IS NULL;
