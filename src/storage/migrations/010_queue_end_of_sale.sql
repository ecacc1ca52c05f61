-- The end of the sale: fans who leave the line, slots freed for a reason, and what the
-- last tick knew about the tickets left (so a fan's view can say it without a count).

-- A fan who left the line (DELETE …/queue/me) or moved to the waitlist keeps the entry
-- (and its number, so nobody behind moves up unfairly), but admission passes over it.
ALTER TABLE queue_entries ADD COLUMN left_at timestamptz;
ALTER TABLE queue_entries ADD COLUMN left_reason text
  CHECK (left_reason IN ('left', 'waitlist'));
ALTER TABLE queue_entries ADD CONSTRAINT queue_entries_left_check
  CHECK ((left_at IS NULL) = (left_reason IS NULL));

-- Why a slot was freed before its pass ran out: the order completed, the shopper gave the
-- pass back, or the shopper held nothing for the idle time. (A slot that lapses by time,
-- the claim grace or the pass expiry, has no reason: it is computed, never written.)
ALTER TABLE queue_admissions ADD COLUMN release_reason text
  CHECK (release_reason IN ('order', 'left', 'idle'));

-- What the last tick saw: tickets available, held, held that may come back, shoppers still
-- looking, tickets per shopper, and when the line closed (NULL while open).
ALTER TABLE queue_state ADD COLUMN supply jsonb;
ALTER TABLE queue_state ADD COLUMN closed_at timestamptz;

-- The tick looks up each live shopper's holds (is anything held, when did the last one
-- end) and the event's recent hold sizes; both go by event, then customer.
CREATE INDEX holds_event_customer_idx ON holds (event_id, customer_id);
