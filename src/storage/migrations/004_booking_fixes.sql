-- Booking fixes: fenced idempotency takeover, provider events linked to the payment they
-- were about, and the simulated gateway's own books.

-- The request that currently owns an idempotency record. A stale 'running' record is taken
-- over by swapping the owner it was seen with for a new one; only the owner may finish or
-- delete it, so a slow first request that wakes up after a takeover changes nothing.
ALTER TABLE idempotency_keys ADD COLUMN owner uuid;

-- Which payment a provider event spoke about (NULL for refunds and ignored events). The
-- audit uses it to find captures the provider reported for payments we hold as declined.
ALTER TABLE provider_events ADD COLUMN payment_id uuid;
ALTER TABLE provider_events ADD COLUMN captured boolean NOT NULL DEFAULT false;
CREATE INDEX provider_events_payment_idx ON provider_events (payment_id)
  WHERE payment_id IS NOT NULL;

-- The simulated gateway's ledger: what it did with each payment id. A real provider keeps
-- this in its own database; the simulated one keeps it here so every node (and the
-- reconciler on whichever node leads) gets the same answer. The first write for a payment
-- wins: a charge after a cancel stays cancelled, a cancel after a charge changes nothing.
CREATE TABLE simulated_gateway_charges (
  payment_id text PRIMARY KEY,
  method text NOT NULL,
  status text NOT NULL CHECK (status IN ('captured', 'declined', 'cancelled')),
  created_at timestamptz NOT NULL DEFAULT now()
);
