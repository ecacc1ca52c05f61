-- The hot path's schema: ticket claims as HOT updates, and no hot events row under the
-- foreign-key locks of hold and order inserts.
--
-- Claiming, re-timing and releasing a ticket change only hold_id and hold_expires_at. An
-- UPDATE is HOT (heap-only: no new entry in any index, the new row version on the same
-- page) only when no index covers a changed column, in its keys or its predicate, and
-- the page has room. Two indexes named hold_id and made every claim, release and expiry
-- write an entry into each of the table's seven indexes:
--   tickets_hold_idx (hold_id): a hold's tickets are found through hold_items instead
--     (its primary key is (hold_id, ticket_no), then the tickets primary key), with
--     tickets.hold_id still checked as the fencing token;
--   tickets_claimed_idx (event_id, zone_key) WHERE hold_id IS NOT NULL OR order_id IS NOT
--     NULL: the per-zone held and sold counts (event pages and search, cached per node;
--     the organizer's live figures; the queue's supply, once per admission tick) now read
--     all of the event's tickets instead of only the claimed ones: about 1,400 buffers for
--     a 110,000-ticket event, where at the start of a sale the index read a handful. Any
--     index that could find held tickets would have to name hold_id or hold_expires_at and
--     would take HOT away from every claim; the counts run a few times a second at most,
--     claims once per ticket per request.
-- Selling still changes order_id, which stays indexed (a ticket is sold once).
-- Older versions found a hold's tickets through tickets_hold_idx: during a rolling upgrade
-- their releases, sweeps and sales scan the event's tickets until they are replaced, so
-- this is applied outside an on-sale (docs/OPERATIONS.md).
--
-- fillfactor 80 leaves a fifth of each page free so the new row version fits beside the
-- old one. It applies to pages written from now on (every ticket of events created after
-- this migration); an existing database keeps its packed pages until the table is
-- rewritten (VACUUM FULL tickets, or pg_repack, in a quiet hour), and meanwhile gets HOT
-- updates wherever pruning has made room.
ALTER TABLE tickets SET (fillfactor = 80);
DROP INDEX IF EXISTS tickets_hold_idx;
DROP INDEX IF EXISTS tickets_claimed_idx;

-- Every INSERT into holds or orders took FOR KEY SHARE on its event's row through the
-- foreign key. During an on-sale every hold and order insert locks that one row: with
-- transactions overlapping, each new locker turns the row's lock into a new MultiXact (a
-- write to the events page and to the MultiXact SLRU, WAL-logged), and it blocks any
-- statement that wants the row FOR UPDATE (cancelling the event) until the sale pauses.
-- The references stay true without it: holds and orders are only inserted for an event
-- the same request has just read (the hold batch and checkout take event_id from an
-- events or holds row), and events are never deleted (a cancellation sets cancelled_at),
-- which the trigger below now enforces.
ALTER TABLE holds DROP CONSTRAINT IF EXISTS holds_event_id_fkey;
ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_event_id_fkey;

CREATE OR REPLACE FUNCTION events_are_never_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'events are never deleted (holds and orders refer to them); cancel instead';
END;
$$;
DROP TRIGGER IF EXISTS events_are_never_deleted ON events;
CREATE TRIGGER events_are_never_deleted BEFORE DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION events_are_never_deleted();
