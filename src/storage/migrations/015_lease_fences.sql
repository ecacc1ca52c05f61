-- Leases that survive a Redis outage (src/coord/pgLease.ts). One fence per lease name: the
-- highest fencing token in use, whichever store (Redis, or a PostgreSQL advisory lock when
-- Redis is down) issued it. Tokens only grow, so fenced writes refuse a stale leader of
-- either store. Fallback tokens come from the sequence, above every recorded token.
CREATE SEQUENCE IF NOT EXISTS lease_fence_seq;
CREATE TABLE IF NOT EXISTS lease_fences (
  name text PRIMARY KEY,
  token bigint NOT NULL,
  store text NOT NULL CHECK (store IN ('redis', 'postgres')),
  holder text NOT NULL,
  issued_at timestamptz NOT NULL DEFAULT now()
);
