-- Notifications: what each customer was told, per outbox row and channel. The relay
-- delivers outbox rows at least once; this table makes the notifier's effect once: a row is
-- claimed (unique per outbox row, customer and channel) before delivery and marked sent
-- after, so a redelivered outbox row re-sends only what was never sent. The stream
-- channel's rows are also what a reconnecting client replays after its Last-Event-ID.
CREATE TABLE notifications (
  notification_id bigserial PRIMARY KEY,
  outbox_id bigint NOT NULL,
  customer_id uuid NOT NULL,
  channel text NOT NULL CHECK (channel IN ('stream', 'email')),
  event_id uuid NOT NULL,
  kind text NOT NULL,
  -- {title, body, holdId?, orderId?, at}
  content jsonb NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  -- E-mail is sent by a dispatcher apart from the relay: a row is leased until this time
  -- while one node sends it, so a crash mid-send means a retry, never a loss.
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  UNIQUE (outbox_id, customer_id, channel)
);
CREATE INDEX notifications_stream_idx ON notifications (customer_id, notification_id)
  WHERE channel = 'stream';
CREATE INDEX notifications_created_idx ON notifications (created_at);
CREATE INDEX notifications_unsent_idx ON notifications (next_attempt_at)
  WHERE sent_at IS NULL AND channel = 'email';
