-- How fast the line moves (src/queue/pace.ts): which limit held admission back on the last
-- tick, the headroom it left, and smoothed measurements of constrained admissions, freed
-- slots and the tick period. Kept with the line so a new leader carries them on.
ALTER TABLE queue_state ADD COLUMN pace jsonb;

-- The shape of what is left (runs of adjacent free seats) is read on every tick near the
-- end of a sale; the unsold tickets are few by then, so it reads only those.
CREATE INDEX tickets_unsold_idx ON tickets (event_id, section_key, row_index, seat_number)
  WHERE order_id IS NULL;
