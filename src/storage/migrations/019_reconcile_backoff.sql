-- Reconciliation backoff: each pending payment and requested refund keeps its own attempt
-- count and next due time, so rows that never settle back off instead of taking every
-- batch (the oldest-first batch used to starve newer rows behind 100 stuck ones).
ALTER TABLE payments ADD COLUMN IF NOT EXISTS reconcile_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN IF NOT EXISTS next_attempt_at timestamptz;
ALTER TABLE refunds ADD COLUMN IF NOT EXISTS reconcile_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE refunds ADD COLUMN IF NOT EXISTS next_attempt_at timestamptz;
CREATE INDEX IF NOT EXISTS payments_pending_due_idx
  ON payments ((coalesce(next_attempt_at, created_at))) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS refunds_requested_due_idx
  ON refunds ((coalesce(next_attempt_at, created_at))) WHERE status = 'requested';

-- Invariant 4's second line of defence: an order is paid at most once. Whatever the code
-- does, a second captured payment for one order cannot commit.
CREATE UNIQUE INDEX IF NOT EXISTS payments_one_captured_per_order
  ON payments (order_id) WHERE status = 'captured';

-- Retention: webhook dedupe records and the simulated gateway's books are pruned by age.
CREATE INDEX IF NOT EXISTS provider_events_received_idx ON provider_events (received_at);
CREATE INDEX IF NOT EXISTS simulated_gateway_charges_created_idx
  ON simulated_gateway_charges (created_at);
