/**
 * Finding orders for support over HTTP, on both backends: by order id, ticket code and
 * e-mail (any case), within one event or across events, admins only, bad input refused;
 * then the organizer refunds the order it found.
 */
import { describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import type { SimulatedGateway } from '../payments/simulated.js';
import type { Db } from '../storage/index.js';
import { appPerSuite } from '../testing/apps.js';
import { testBackends } from '../testing/backends.js';
import { adminHeaders } from '../testing/context.js';
import { bearer, buildCustomer, buildEvent } from '../testing/factories.js';
import { orderQueryKind } from './search.js';

const backends = await testBackends();

describe('orderQueryKind', () => {
  it('reads a query by its shape', () => {
    expect(orderQueryKind('')).toBe('recent');
    expect(orderQueryKind('5f0c6a54-8f43-4d2a-9d36-0a7c1f3e9b10')).toBe('orderId');
    expect(orderQueryKind('Fan@Example.com')).toBe('email');
    expect(orderQueryKind('q7Xk2-9_abc')).toBe('ticketCode');
  });
});

for (const backend of backends) {
  describe.skipIf(!backend.available)(`order search on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;
    let gateway: SimulatedGateway;

    appPerSuite(backend, (suite) => ({ db, app, ctx, gateway } = suite));

    async function buy(eventId: string, token: string, seats: string[], key: string) {
      const hold = await app.inject({
        method: 'POST', url: `/api/v1/events/${eventId}/holds`, headers: bearer(token),
        payload: { seats },
      });
      expect(hold.statusCode).toBe(201);
      const order = await app.inject({
        method: 'POST', url: `/api/v1/holds/${hold.json().holdId}/checkout`,
        headers: { ...bearer(token), 'idempotency-key': key },
        payload: { paymentMethod: 'sim_ok' },
      });
      expect(order.json().status).toBe('confirmed');
      return order.json() as { orderId: string; tickets: { code: string }[] };
    }

    const search = async (query: string) =>
      await app.inject({ url: `/api/v1/admin/orders?${query}`, headers: adminHeaders });

    it('finds an order by id, ticket code and e-mail, within an event or across', async () => {
      const first = await buildEvent(ctx);
      const second = await buildEvent(ctx);
      const fan = await buildCustomer(ctx, { email: `Mixed.Case-${Date.now()}@Example.com` });
      const other = await buildCustomer(ctx);
      const mine = await buy(first.eventId, fan.token, ['A-1-1', 'A-1-2'], 'search-1');
      const later = await buy(second.eventId, fan.token, ['A-2-1'], 'search-2');
      const theirs = await buy(first.eventId, other.token, ['A-3-3'], 'search-3');

      const byId = (await search(`q=${mine.orderId}`)).json();
      expect(byId.data.map((o: { orderId: string }) => o.orderId)).toEqual([mine.orderId]);
      expect(byId.data[0].customer).toEqual({
        customerId: fan.customerId, email: fan.email, name: 'Test Fan',
      });
      expect(byId.data[0].tickets).toHaveLength(2);

      const code = mine.tickets[1]?.code ?? '';
      const byCode = (await search(`q=${encodeURIComponent(code)}`)).json();
      expect(byCode.data.map((o: { orderId: string }) => o.orderId)).toEqual([mine.orderId]);

      const email = encodeURIComponent(` ${fan.email.toUpperCase()} `);
      const byEmail = (await search(`q=${email}`)).json();
      expect(byEmail.data.map((o: { orderId: string }) => o.orderId))
        .toEqual([later.orderId, mine.orderId]);
      const inFirst = (await search(`q=${email}&eventId=${first.eventId}`)).json();
      expect(inFirst.data.map((o: { orderId: string }) => o.orderId)).toEqual([mine.orderId]);

      const recent = (await search(`eventId=${first.eventId}&limit=1`)).json();
      expect(recent.data.map((o: { orderId: string }) => o.orderId)).toEqual([theirs.orderId]);

      expect((await search('q=no-such-code')).json().data).toEqual([]);
      expect((await search(`q=${mine.orderId}&eventId=${second.eventId}`)).json().data)
        .toEqual([]);
    });

    it('answers admins only and refuses bad queries precisely', async () => {
      const fan = await buildCustomer(ctx);
      expect((await app.inject({ url: '/api/v1/admin/orders' })).statusCode).toBe(401);
      const asFan = await app.inject({ url: '/api/v1/admin/orders', headers: bearer(fan.token) });
      expect(asFan.statusCode).toBe(403);
      for (const query of ['limit=51', 'limit=0', 'eventId=nope', `q=${'x'.repeat(300)}`,
        'unknown=1']) {
        const reply = await search(query);
        expect(reply.statusCode, query).toBe(400);
        expect(reply.json().code, query).toBe('validation_failed');
      }
    });

    it('lets the organizer refund the order it found: tickets return to the pool', async () => {
      const event = await buildEvent(ctx);
      const fan = await buildCustomer(ctx);
      const order = await buy(event.eventId, fan.token, ['A-5-9', 'A-5-10'], 'search-refund');
      const [found] = (await search(`q=${order.tickets[0]?.code ?? ''}`)).json().data;
      const cancelled = await app.inject({
        method: 'POST', url: `/api/v1/orders/${found.orderId}/cancel`, headers: adminHeaders,
      });
      expect(cancelled.statusCode).toBe(200);
      expect(cancelled.json().status).toBe('cancelled');
      expect(cancelled.json().payment.refund.amountCents).toBe(2 * 5_000);
      const after = (await search(`q=${order.orderId}`)).json().data[0];
      expect(after.status).toBe('cancelled');
      expect(after.tickets.map((t: { status: string }) => t.status))
        .toEqual(['cancelled', 'cancelled']);
      const again = await app.inject({
        method: 'POST', url: `/api/v1/events/${event.eventId}/holds`, headers: bearer(fan.token),
        payload: { seats: ['A-5-9', 'A-5-10'] },
      });
      expect(again.statusCode).toBe(201);
    });
  });
}
