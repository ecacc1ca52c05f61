-- A fan who buys while still waiting in the line leaves it (review fixes).
--
-- A fan may wait in the line and on the waitlist at once (the zone was all in carts when
-- they joined the waitlist). When a cart is let go the waitlist offers them tickets and
-- they buy. Their line entry stayed as it was, so a later tick admitted them to a
-- live-shopper slot they never used: counted among maxActiveShoppers until its claim grace
-- lapsed, while the fan behind them waited for it. SPEC §5 frees a shopper's slot the
-- moment their order completes (the confirming transaction releases their admission); a
-- fan not admitted yet is now done with the line the same way: the confirmation marks the
-- entry left with left_reason 'purchased', and the tick passes over it as over any fan who
-- left (their number is kept: nobody behind moves up out of turn).
--
-- A trigger, because every path that confirms an order (settle_batch of 027, a settlement
-- of its own in orders/settle.ts) then does it, as each already writes order.confirmed:
-- none of them has to know about the line. It fires in the UPDATE that confirms the order,
-- so the entry is written before the same transaction releases the fan's admission; that
-- is the order a leave takes (queue/leave.ts), and the tick's apply takes the entries'
-- share lock before it admits (053): an apply in flight is waited for, and the admission it
-- wrote is then released by the confirmation's next statement; an apply that comes after
-- sees the entry left. Only an entry with no admission is marked: an admitted fan's slot is
-- released as before and their view still says so. One probe of the entries' primary key
-- per confirmed order (nothing to mark for an event without a queue). The queue counts'
-- trigger of 046 counts the entry among those that left unadmitted, not among the fans who
-- left on their own ('left') or moved to the waitlist ('waitlist').
-- NOT VALID, then validated: the check of the existing rows does not block the line.
ALTER TABLE queue_entries DROP CONSTRAINT queue_entries_left_reason_check;
ALTER TABLE queue_entries ADD CONSTRAINT queue_entries_left_reason_check
  CHECK (left_reason IN ('left', 'waitlist', 'purchased')) NOT VALID;
ALTER TABLE queue_entries VALIDATE CONSTRAINT queue_entries_left_reason_check;

CREATE FUNCTION queue_entry_order_confirmed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE queue_entries e SET left_at = now(), left_reason = 'purchased'
   WHERE e.event_id = NEW.event_id AND e.customer_id = NEW.customer_id
     AND e.left_at IS NULL
     AND NOT EXISTS (SELECT 1 FROM queue_admissions a
                      WHERE a.event_id = e.event_id AND a.customer_id = e.customer_id);
  RETURN NULL;
END;
$$;

CREATE TRIGGER orders_confirmed_leave_line
  AFTER UPDATE OF status ON orders
  FOR EACH ROW
  WHEN (NEW.status = 'confirmed' AND OLD.status IS DISTINCT FROM 'confirmed')
  EXECUTE FUNCTION queue_entry_order_confirmed();
