/** Retention prunes old webhook dedupe records and gateway books, and nothing recent. */
import { expect, it } from 'vitest';
import { testBackends } from '../testing/backends.js';
import { describeEachBackend } from '../testing/suites.js';
import { pruneBookingRecords } from './retention.js';

const backends = await testBackends();

describeEachBackend(backends, (name) => `retention on ${name}`, {}, (suite) => {
  it('deletes rows past retention in bounded batches, keeps recent ones', async () => {
    const { db } = suite;
    await db.query(
      `INSERT INTO provider_events (provider, provider_event_id, kind, received_at)
       SELECT 'simulated', 'old-' || g, 'payment.captured', now() - interval '40 days'
         FROM generate_series(1, 5) AS g
       UNION ALL SELECT 'simulated', 'new-1', 'payment.captured', now()`);
    await db.query(
      `INSERT INTO simulated_gateway_charges (payment_id, method, status, created_at)
       VALUES ('old-charge', 'sim_ok', 'captured', now() - interval '40 days'),
              ('new-charge', 'sim_ok', 'captured', now())`);
    expect(await pruneBookingRecords(db, 3)).toEqual({ providerEvents: 3, gatewayCharges: 1 });
    expect(await pruneBookingRecords(db, 3)).toEqual({ providerEvents: 2, gatewayCharges: 0 });
    const left = await db.query<{ id: string }>(
      `SELECT provider_event_id AS id FROM provider_events
       UNION ALL SELECT payment_id FROM simulated_gateway_charges ORDER BY 1`);
    expect(left.rows.map((r) => r.id)).toEqual(['new-1', 'new-charge']);
  });
});
