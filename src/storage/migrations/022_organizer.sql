-- Organizer read paths: an event's orders newest first (support search without a query,
-- the dashboard's sales series) without scanning every order of every event.
CREATE INDEX IF NOT EXISTS orders_event_created_idx ON orders (event_id, created_at DESC, order_id);
CREATE INDEX IF NOT EXISTS orders_event_confirmed_idx ON orders (event_id, confirmed_at)
  WHERE status = 'confirmed';
CREATE INDEX IF NOT EXISTS holds_event_created_idx ON holds (event_id, created_at);
