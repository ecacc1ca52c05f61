-- Booking: holds (with locked prices), orders, payments, refunds, issued tickets and
-- check-ins, idempotency keys, and provider webhook deduplication.
-- Event-scoped tables carry event_id so they can be distributed by it.

-- A hold is a pending transfer: it starts 'held' and ends exactly once as 'purchased',
-- 'released' or 'expired'. expires_at is the buyer-facing timer; claim_expires_at is how
-- long its tickets stay reserved (equal to expires_at, or later while a payment is
-- pending) and always equals tickets.hold_expires_at of the hold's tickets.
CREATE TABLE holds (
  hold_id uuid PRIMARY KEY,
  event_id uuid NOT NULL REFERENCES events (event_id),
  customer_id uuid NOT NULL REFERENCES customers (customer_id),
  state text NOT NULL CHECK (state IN ('held', 'purchased', 'released', 'expired')),
  quantity integer NOT NULL CHECK (quantity > 0),
  adjacent boolean NOT NULL,
  currency char(3) NOT NULL,
  total_cents bigint NOT NULL CHECK (total_cents >= 0),
  expires_at timestamptz NOT NULL,
  claim_expires_at timestamptz NOT NULL,
  extended boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  ended_at timestamptz,
  CHECK (claim_expires_at >= expires_at),
  CHECK ((state = 'held') = (ended_at IS NULL))
);
-- The per-customer limit and /me/holds read live holds of one customer and event.
CREATE INDEX holds_customer_idx ON holds (customer_id, event_id) WHERE state = 'held';
-- The sweeper reads the oldest lapsed holds first.
CREATE INDEX holds_sweep_idx ON holds (claim_expires_at) WHERE state = 'held';

-- What a hold claimed, with the price locked at hold time.
CREATE TABLE hold_items (
  hold_id uuid NOT NULL REFERENCES holds (hold_id),
  event_id uuid NOT NULL,
  ticket_no integer NOT NULL,
  zone_key text NOT NULL,
  price_cents integer NOT NULL CHECK (price_cents >= 0),
  PRIMARY KEY (hold_id, ticket_no),
  FOREIGN KEY (event_id, ticket_no) REFERENCES tickets (event_id, ticket_no)
);

CREATE TABLE orders (
  order_id uuid PRIMARY KEY,
  event_id uuid NOT NULL REFERENCES events (event_id),
  customer_id uuid NOT NULL REFERENCES customers (customer_id),
  hold_id uuid NOT NULL REFERENCES holds (hold_id),
  status text NOT NULL
    CHECK (status IN ('pending_payment', 'confirmed', 'payment_failed', 'cancelled')),
  quantity integer NOT NULL CHECK (quantity > 0),
  total_cents bigint NOT NULL,
  currency char(3) NOT NULL,
  failure_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  confirmed_at timestamptz,
  cancelled_at timestamptz
);
-- At most one order per hold is in flight or confirmed: a hold is paid for once.
CREATE UNIQUE INDEX orders_live_hold_key ON orders (hold_id)
  WHERE status IN ('pending_payment', 'confirmed');
CREATE INDEX orders_customer_idx ON orders (customer_id, created_at DESC, order_id);
CREATE INDEX orders_customer_event_idx ON orders (customer_id, event_id) WHERE status = 'confirmed';

-- One payment attempt per checkout. status only moves forward:
-- pending → captured | declined. A captured payment ends matched by a confirmed order or
-- by exactly one refund (refunds.payment_id is unique).
CREATE TABLE payments (
  payment_id uuid PRIMARY KEY,
  order_id uuid NOT NULL REFERENCES orders (order_id),
  event_id uuid NOT NULL,
  provider text NOT NULL,
  provider_ref text,
  method text NOT NULL,
  amount_cents bigint NOT NULL,
  currency char(3) NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'captured', 'declined')),
  decline_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  settled_at timestamptz
);
CREATE INDEX payments_order_idx ON payments (order_id);
CREATE UNIQUE INDEX payments_provider_ref_key ON payments (provider, provider_ref)
  WHERE provider_ref IS NOT NULL;
CREATE INDEX payments_pending_idx ON payments (created_at) WHERE status = 'pending';

CREATE TABLE refunds (
  refund_id uuid PRIMARY KEY,
  payment_id uuid NOT NULL UNIQUE REFERENCES payments (payment_id),
  order_id uuid NOT NULL REFERENCES orders (order_id),
  amount_cents bigint NOT NULL,
  reason text NOT NULL,
  status text NOT NULL CHECK (status IN ('requested', 'succeeded')),
  provider_ref text,
  created_at timestamptz NOT NULL DEFAULT now(),
  succeeded_at timestamptz
);
CREATE INDEX refunds_requested_idx ON refunds (created_at) WHERE status = 'requested';

-- The buyer's tickets, issued when an order is confirmed. The code is what the door scans.
CREATE TABLE order_tickets (
  ticket_id uuid PRIMARY KEY,
  order_id uuid NOT NULL REFERENCES orders (order_id),
  event_id uuid NOT NULL,
  ticket_no integer NOT NULL,
  zone_key text NOT NULL,
  price_cents integer NOT NULL,
  code text NOT NULL UNIQUE,
  status text NOT NULL CHECK (status IN ('valid', 'cancelled')),
  checked_in_at timestamptz,
  FOREIGN KEY (event_id, ticket_no) REFERENCES tickets (event_id, ticket_no)
);
CREATE INDEX order_tickets_order_idx ON order_tickets (order_id);
-- A second line of defence for invariant 1: one valid issued ticket per inventory unit.
CREATE UNIQUE INDEX order_tickets_valid_key ON order_tickets (event_id, ticket_no)
  WHERE status = 'valid';

-- Idempotency-Key records, scoped to the customer. A row is 'running' while the first
-- request executes; later requests with the same key wait for it and replay its reply.
CREATE TABLE idempotency_keys (
  customer_id uuid NOT NULL,
  idem_key text NOT NULL,
  fingerprint text NOT NULL,
  state text NOT NULL CHECK (state IN ('running', 'done')),
  response_status integer,
  response_body jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_id, idem_key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Provider webhook events applied so far: a duplicate delivery finds its row and does nothing.
CREATE TABLE provider_events (
  provider text NOT NULL,
  provider_event_id text NOT NULL,
  kind text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, provider_event_id)
);

-- Best available reads a zone's free seats; this index serves it in picking order.
CREATE INDEX tickets_seat_pick_idx ON tickets (event_id, zone_key, section_position, row_index,
  seat_number) WHERE seat_id IS NOT NULL;
