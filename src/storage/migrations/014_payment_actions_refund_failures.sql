-- What the buyer must do to finish a payment (Stripe `requires_action`, 3-D Secure): the
-- intent's client secret and next action type, shown to the client while the payment is
-- pending. Shown only while pending; the secret only lets the buyer's browser finish this
-- one intent.
ALTER TABLE payments ADD COLUMN IF NOT EXISTS next_action jsonb;

-- Refunds that end failed or canceled at the provider (a closed card account, a refund the
-- provider gave up on): terminal, money still with the merchant, an operator must act.
ALTER TABLE refunds DROP CONSTRAINT IF EXISTS refunds_status_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_status_check
  CHECK (status IN ('requested', 'succeeded', 'failed'));
ALTER TABLE refunds ADD COLUMN IF NOT EXISTS failure_reason text;
ALTER TABLE refunds ADD COLUMN IF NOT EXISTS failed_at timestamptz;
CREATE INDEX IF NOT EXISTS refunds_failed_idx ON refunds (failed_at) WHERE status = 'failed';
