/**
 * Retention for the tables that only grow: webhook dedupe records (`provider_events`) and
 * the simulated gateway's books. Kept long past any provider's redelivery window (Stripe
 * retries for three days) and any payment's window, then deleted in bounded batches by the
 * maintenance leader. Idempotency records have their own pruning (idempotency/store.ts).
 */
import { limits } from '../config/limits.js';
import type { Queryable } from '../storage/index.js';

/** Deletes one bounded batch of each table's expired rows; returns how many went. */
export async function pruneBookingRecords(
  db: Queryable, batch: number = limits.retentionBatch,
): Promise<{ providerEvents: number; gatewayCharges: number }> {
  const events = await db.query(
    `DELETE FROM provider_events WHERE (provider, provider_event_id) IN (
       SELECT provider, provider_event_id FROM provider_events
        WHERE received_at < now() - make_interval(days => $1) LIMIT $2)`,
    [limits.providerEventRetentionDays, batch],
  );
  const charges = await db.query(
    `DELETE FROM simulated_gateway_charges WHERE payment_id IN (
       SELECT payment_id FROM simulated_gateway_charges
        WHERE created_at < now() - make_interval(days => $1) LIMIT $2)`,
    [limits.providerEventRetentionDays, batch],
  );
  return { providerEvents: events.rowCount, gatewayCharges: charges.rowCount };
}
