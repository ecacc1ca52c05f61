-- Foundation: customers, venues, events, zones, tickets, outbox.
-- Event-scoped tables lead with event_id so they can be distributed by it (e.g. Citus).

CREATE TABLE customers (
  customer_id uuid PRIMARY KEY,
  email text NOT NULL,
  name text NOT NULL,
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX customers_email_key ON customers (lower(email));

CREATE TABLE venues (
  venue_id uuid PRIMARY KEY,
  name text NOT NULL,
  city text NOT NULL,
  -- The sections as created: [{key, name, kind, rows: [{label, seats}]} | {key, name, kind, capacity}]
  layout jsonb NOT NULL,
  capacity integer NOT NULL CHECK (capacity > 0),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE events (
  event_id uuid PRIMARY KEY,
  venue_id uuid NOT NULL REFERENCES venues (venue_id),
  title text NOT NULL,
  description text NOT NULL DEFAULT '',
  performers text[] NOT NULL DEFAULT '{}',
  venue_name text NOT NULL,
  city text NOT NULL,
  starts_at timestamptz NOT NULL,
  on_sale_at timestamptz NOT NULL,
  hold_seconds integer NOT NULL CHECK (hold_seconds BETWEEN 1 AND 7200),
  hold_extension_seconds integer NOT NULL CHECK (hold_extension_seconds BETWEEN 0 AND 7200),
  max_tickets_per_customer integer NOT NULL CHECK (max_tickets_per_customer BETWEEN 1 AND 50),
  -- {enabled, admitPerMinute, maxActiveShoppers, passSeconds}
  queue jsonb NOT NULL,
  capacity integer NOT NULL,
  cancelled_at timestamptz,
  -- Weighted: title and performers A, venue and city B, description C.
  search tsvector NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (on_sale_at <= starts_at)
);
CREATE INDEX events_search_idx ON events USING gin (search);
CREATE INDEX events_starts_idx ON events (starts_at, event_id);
CREATE INDEX events_city_idx ON events (lower(city), starts_at, event_id);

CREATE TABLE zones (
  event_id uuid NOT NULL REFERENCES events (event_id),
  zone_key text NOT NULL,
  name text NOT NULL,
  price_cents integer NOT NULL CHECK (price_cents >= 0),
  currency char(3) NOT NULL,
  position integer NOT NULL,
  sections text[] NOT NULL,
  capacity integer NOT NULL CHECK (capacity > 0),
  PRIMARY KEY (event_id, zone_key)
);

-- One row per sellable unit: a seat, or one place in a standing section.
-- State is derived, never counted down:
--   sold       order_id IS NOT NULL
--   held       order_id IS NULL AND hold_id IS NOT NULL AND hold_expires_at > now()
--   available  otherwise (an expired hold simply stops counting: lazy expiry)
CREATE TABLE tickets (
  event_id uuid NOT NULL REFERENCES events (event_id),
  ticket_no integer NOT NULL,           -- dense per event, in layout order
  zone_key text NOT NULL,
  section_key text NOT NULL,
  section_position integer NOT NULL,    -- order of the section in the venue layout
  row_label text,                       -- NULL for standing units
  row_index integer,                    -- 0 = front row of its section
  seat_number integer,                  -- 1-based position in the row
  seat_id text,                         -- '<section>-<row>-<number>'; NULL for standing units
  hold_id uuid,
  hold_expires_at timestamptz,
  order_id uuid,
  PRIMARY KEY (event_id, ticket_no),
  CHECK ((hold_id IS NULL) = (hold_expires_at IS NULL))
);
CREATE UNIQUE INDEX tickets_seat_key ON tickets (event_id, seat_id) WHERE seat_id IS NOT NULL;
CREATE INDEX tickets_zone_idx ON tickets (event_id, zone_key, ticket_no);
CREATE INDEX tickets_hold_idx ON tickets (hold_id) WHERE hold_id IS NOT NULL;
CREATE INDEX tickets_order_idx ON tickets (order_id) WHERE order_id IS NOT NULL;
-- Availability counts only read claimed tickets; this stays small as holds are tidied.
CREATE INDEX tickets_claimed_idx ON tickets (event_id, zone_key)
  WHERE hold_id IS NOT NULL OR order_id IS NOT NULL;

-- Transactional outbox: every change of ticket state writes a row here in the same
-- transaction; a relay publishes them in outbox_id order.
CREATE TABLE outbox_events (
  outbox_id bigserial PRIMARY KEY,
  event_id uuid NOT NULL,
  kind text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz
);
CREATE INDEX outbox_unpublished_idx ON outbox_events (outbox_id) WHERE published_at IS NULL;
CREATE INDEX outbox_event_idx ON outbox_events (event_id, outbox_id);
