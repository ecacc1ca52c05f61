-- Waitlist: fans waiting for returned tickets, and the offers made to them.
-- Event-scoped tables lead with event_id so they can be distributed by it.

-- Position order across every event: a join (or a re-join after leaving) takes the next
-- number, so "earliest first" never depends on a client or node clock.
CREATE SEQUENCE waitlist_seq;

-- One entry per customer and event (joining again is idempotent). status is what the
-- waitlist itself recorded: 'waiting', 'offered' (offer_hold_id is the hold made for the
-- fan) or 'left'. Whether an offer was bought or lapsed is read from its hold, never
-- counted down: an offered entry whose hold was purchased is fulfilled, one whose hold
-- ended otherwise is over.
CREATE TABLE waitlist_entries (
  event_id uuid NOT NULL REFERENCES events (event_id),
  customer_id uuid NOT NULL REFERENCES customers (customer_id),
  seq bigint NOT NULL DEFAULT nextval('waitlist_seq'),
  zone_key text,                        -- NULL: any zone
  quantity integer NOT NULL CHECK (quantity > 0),
  status text NOT NULL CHECK (status IN ('waiting', 'offered', 'left')),
  offer_hold_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, customer_id),
  CHECK ((status = 'offered') = (offer_hold_id IS NOT NULL))
);
-- Offers walk the waiting entries of one event, earliest first.
CREATE INDEX waitlist_waiting_idx ON waitlist_entries (event_id, seq) WHERE status = 'waiting';
CREATE INDEX waitlist_customer_idx ON waitlist_entries (customer_id, created_at DESC);

-- Every offer ever made: the hold created for the fan when tickets came back. A hold is an
-- offer at most once (primary key); /me/holds marks these holds `offer: true`.
CREATE TABLE waitlist_offers (
  hold_id uuid PRIMARY KEY REFERENCES holds (hold_id),
  event_id uuid NOT NULL,
  customer_id uuid NOT NULL,
  entry_seq bigint NOT NULL,
  reason text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX waitlist_offers_event_idx ON waitlist_offers (event_id, created_at);
