-- The outbox relay: per-event feed versions assigned in commit order, a fenced relay
-- leader, and an index that keeps finding unversioned rows cheap.
--
-- outbox_id is taken at INSERT but the row commits later, so two writers can commit out
-- of id order and a reader that keeps "everything above the last id seen" skips the late
-- one. The relay therefore never reads by id range: it stamps every committed row that has
-- no version yet, per event, from event_feed's counter. A row committed late simply gets a
-- later version. The seat map reads event_feed.version in the same snapshot as the ticket
-- states, so everything at or below it is already in the map.

ALTER TABLE outbox_events ADD COLUMN version bigint;
CREATE INDEX outbox_unversioned_idx ON outbox_events (outbox_id) WHERE version IS NULL;
CREATE INDEX outbox_published_idx ON outbox_events (published_at) WHERE published_at IS NOT NULL;

-- The last feed version assigned per event (0 when no row has been stamped yet).
CREATE TABLE event_feed (
  event_id uuid PRIMARY KEY,
  version bigint NOT NULL CHECK (version >= 0),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row: the newest relay leader's fencing token. A stamp by an older token is refused,
-- so a deposed leader waking up late cannot hand out versions a newer one also hands out.
CREATE TABLE outbox_relay_state (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  leader_token bigint NOT NULL DEFAULT 0
);
INSERT INTO outbox_relay_state (singleton, leader_token) VALUES (true, 0);
