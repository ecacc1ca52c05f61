-- Scoped credentials. Door staff get a check-in token per event (created by the organizer,
-- revocable) that can do nothing but check tickets in at that event's door. Customers can
-- revoke every token they hold: a token carries the customer's token version, and bumping
-- the version ends every session at once.
ALTER TABLE customers ADD COLUMN IF NOT EXISTS token_version integer NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS checkin_tokens (
  token_id uuid PRIMARY KEY,
  event_id uuid NOT NULL REFERENCES events (event_id),
  label text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE INDEX IF NOT EXISTS checkin_tokens_event_idx ON checkin_tokens (event_id, created_at);
