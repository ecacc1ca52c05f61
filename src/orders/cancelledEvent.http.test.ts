/**
 * Hold creation reads events through a per-node cache (about a second), so a cancellation
 * may reach it that late; checkout decides in its own transaction and never takes money
 * for a cancelled event, however stale the hold route's cache is.
 */
import { describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import { ManualClock } from '../core/clock.js';
import type { App } from '../http/types.js';
import type { SimulatedGateway } from '../payments/simulated.js';
import type { Db } from '../storage/index.js';
import { auditBooking } from '../testing/audit.js';
import { appPerSuite } from '../testing/apps.js';
import { testBackends } from '../testing/backends.js';
import { bearer, buildCustomer, buildEvent } from '../testing/factories.js';

const backends = await testBackends();

for (const backend of backends) {
  describe.skipIf(!backend.available)(`a cancelled event on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;
    let gateway: SimulatedGateway;
    const clock = new ManualClock(Date.now());

    appPerSuite(backend, (suite) => ({ db, app, ctx, gateway } = suite), { clock });

    const hold = (eventId: string, token: string, seat: string) => app.inject({
      method: 'POST', url: `/api/v1/events/${eventId}/holds`, headers: bearer(token),
      payload: { seats: [seat] },
    });

    it('is refused at checkout even while the hold route still has it cached', async () => {
      const event = await buildEvent(ctx);
      const first = await buildCustomer(ctx);
      expect((await hold(event.eventId, first.token, 'A-1-1')).statusCode).toBe(201);
      await db.query('UPDATE events SET cancelled_at = now() WHERE event_id = $1',
        [event.eventId]);
      // Within the cache's second the hold route has not seen the cancellation yet...
      const late = await buildCustomer(ctx);
      const stale = await hold(event.eventId, late.token, 'A-1-2');
      expect(stale.statusCode, stale.body).toBe(201);
      // ...but checkout reads the event in its own transaction: no order, no money.
      const orders = await db.query('SELECT 1 FROM orders WHERE event_id = $1', [event.eventId]);
      const response = await app.inject({
        method: 'POST', url: `/api/v1/holds/${stale.json().holdId}/checkout`,
        headers: { ...bearer(late.token), 'idempotency-key': 'after-cancel' },
        payload: { paymentMethod: 'sim_ok' },
      });
      expect(response.statusCode, response.body).toBe(403);
      expect(response.json().code).toBe('not_on_sale');
      const after = await db.query('SELECT 1 FROM orders WHERE event_id = $1', [event.eventId]);
      expect(after.rows.length).toBe(orders.rows.length);
      expect(await auditBooking(db, event.eventId)).toEqual([]);
      // Once the entry is a second old, hold creation refuses too.
      clock.advance(1_000);
      const refused = await hold(event.eventId, late.token, 'A-1-3');
      expect(refused.statusCode).toBe(403);
      expect(refused.json().code).toBe('not_on_sale');
    });

    it('a refusal is never answered from the cache: the sale opening is seen at once',
      async () => {
        const event = await buildEvent(ctx,
          { onSaleAt: new Date(clock.nowMs() + 3_600_000).toISOString() });
        const fan = await buildCustomer(ctx);
        const early = await hold(event.eventId, fan.token, 'A-1-1');
        expect(early.statusCode).toBe(403);
        await db.query(`UPDATE events SET on_sale_at = $2 WHERE event_id = $1`,
          [event.eventId, new Date(clock.nowMs() - 1_000).toISOString()]);
        const open = await hold(event.eventId, fan.token, 'A-1-1');
        expect(open.statusCode, open.body).toBe(201);
      });
  });
}
