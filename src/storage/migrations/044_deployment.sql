-- One row naming this deployment (everything that shares this database). Nodes use it to
-- claim their Redis key prefix, so two deployments pointed at one Redis with the same
-- prefix do not silently share leases, queues and rate limits: the second refuses to start.
CREATE TABLE deployment (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  deployment_id uuid NOT NULL DEFAULT gen_random_uuid(),
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO deployment DEFAULT VALUES;
