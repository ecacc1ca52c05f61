-- The waiting room. PostgreSQL is the source of truth for every line; the coordination
-- store only caches it (member numbers, the last tick) and fans ticks out.
-- Every table leads with event_id so it can be distributed by it.

-- One numbering row per event. Every transaction that hands out numbers locks this row,
-- so numbers are dense and commit in number order: a tick never sees number n+1 without n.
-- Joins are grouped per node (one transaction numbers many fans), which keeps the row
-- from becoming the bottleneck.
CREATE TABLE queue_numbering (
  event_id uuid PRIMARY KEY REFERENCES events (event_id),
  last_number bigint NOT NULL DEFAULT 0 CHECK (last_number >= 0),
  -- Set by the on-sale draw; before it, joiners enter the pre-queue without a number.
  drawn_at timestamptz
);

-- One entry per customer per event (the primary key makes joining idempotent).
CREATE TABLE queue_entries (
  event_id uuid NOT NULL,
  customer_id uuid NOT NULL,
  -- NULL while in the pre-queue; the draw numbers the pre-queue 1..P in shuffled order.
  number bigint CHECK (number > 0),
  pre_queue boolean NOT NULL,
  joined_at timestamptz NOT NULL,
  PRIMARY KEY (event_id, customer_id),
  CHECK (pre_queue OR number IS NOT NULL)
);
CREATE UNIQUE INDEX queue_entries_number_key ON queue_entries (event_id, number)
  WHERE number IS NOT NULL;
CREATE INDEX queue_entries_undrawn_idx ON queue_entries (event_id) WHERE number IS NULL;

-- The pre-queue draw, kept for audit: replaying the shuffle of the sorted customer ids
-- with `seed` must give `result_order` (customer ids in the order of their numbers).
CREATE TABLE queue_draws (
  event_id uuid PRIMARY KEY,
  seed text NOT NULL,
  algorithm text NOT NULL,
  entries integer NOT NULL,
  first_number bigint NOT NULL,
  result_order uuid[] NOT NULL,
  drawn_at timestamptz NOT NULL
);

-- Admission progress, advanced only by the admission tick (a leader-elected duty).
CREATE TABLE queue_state (
  event_id uuid PRIMARY KEY REFERENCES events (event_id),
  -- Entries numbered up to here have been admitted; position = number - served_up_to.
  served_up_to bigint NOT NULL DEFAULT 0,
  -- Fractional admissions earned by elapsed time and not yet spent (smooth pacing).
  admit_credit double precision NOT NULL DEFAULT 0,
  last_tick_at timestamptz,
  first_admitted_at timestamptz,
  -- Measured admissions per minute over the last minute; feeds every fan's ETA.
  rate_per_minute double precision NOT NULL DEFAULT 0,
  sold_out boolean NOT NULL DEFAULT false,
  tick_seq bigint NOT NULL DEFAULT 0,
  -- Fencing: the highest lease token that has ticked. A tick carrying a lower token comes
  -- from a deposed leader and is refused.
  leader_token bigint NOT NULL DEFAULT 0
);

-- One admission per entry at most (both keys), each with its pass.
-- A pass is live while: not released, not expired, and claimed (or still within the
-- claim grace). Liveness is computed from these columns at read time, never counted down.
CREATE TABLE queue_admissions (
  event_id uuid NOT NULL,
  customer_id uuid NOT NULL,
  number bigint NOT NULL,
  pass_id uuid NOT NULL,
  admitted_at timestamptz NOT NULL,
  claim_by timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  claimed_at timestamptz,
  -- Set when the shopper's order completes (releaseShopperSlot) or the tick reconciles it.
  released_at timestamptz,
  leader_token bigint NOT NULL,
  PRIMARY KEY (event_id, customer_id),
  CHECK (claim_by <= expires_at)
);
CREATE UNIQUE INDEX queue_admissions_number_key ON queue_admissions (event_id, number);
CREATE INDEX queue_admissions_recent_idx ON queue_admissions (event_id, admitted_at);
CREATE INDEX queue_admissions_open_idx ON queue_admissions (event_id, expires_at)
  WHERE released_at IS NULL;
