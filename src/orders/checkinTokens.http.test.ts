/**
 * Door staff credentials: a check-in token created by the organizer checks tickets in at
 * its own event's door and can do nothing else; revoking it takes effect at once.
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

const backends = await testBackends();

for (const backend of backends) {
  describe.skipIf(!backend.available)(`check-in tokens on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;
    let gateway: SimulatedGateway;

    appPerSuite(backend, (suite) => ({ db, app, ctx, gateway } = suite));

    /** A fresh event with one sold ticket; returns its code, order and buyer. */
    async function soldTicket() {
      const event = await buildEvent(ctx);
      const fan = await buildCustomer(ctx);
      const hold = await app.inject({ method: 'POST', url: `/api/v1/events/${event.eventId}/holds`,
        headers: bearer(fan.token), payload: { seats: ['A-1-1'] } });
      const order = (await app.inject({ method: 'POST',
        url: `/api/v1/holds/${hold.json().holdId}/checkout`,
        headers: { ...bearer(fan.token), 'idempotency-key': 'k' },
        payload: { paymentMethod: 'sim_ok' } })).json();
      return { event, fan, orderId: order.orderId as string, code: order.tickets[0].code as string };
    }

    const createToken = async (eventId: string) => {
      const created = await app.inject({ method: 'POST',
        url: `/api/v1/admin/events/${eventId}/checkin-tokens`, headers: adminHeaders,
        payload: { label: 'north gate' } });
      expect(created.statusCode, created.body).toBe(201);
      return created.json() as { token: string; tokenId: string; label: string };
    };
    const scan = (eventId: string, token: string, code: string) => app.inject({ method: 'POST',
      url: `/api/v1/events/${eventId}/checkins`, headers: bearer(token), payload: { code } });

    it('checks tickets in at its own event and reads the door tally', async () => {
      const { event, code } = await soldTicket();
      const door = await createToken(event.eventId);
      expect(door).toMatchObject({ label: 'north gate', eventId: event.eventId });
      expect((await scan(event.eventId, door.token, code)).statusCode).toBe(200);
      const again = await scan(event.eventId, door.token, code);
      expect(again.json().code).toBe('already_checked_in');
      const tally = await app.inject({ method: 'GET',
        url: `/api/v1/events/${event.eventId}/checkins/summary`, headers: bearer(door.token) });
      expect(tally.json()).toMatchObject({ eventId: event.eventId, valid: 1, checkedIn: 1 });
      const listed = await app.inject({ method: 'GET',
        url: `/api/v1/admin/events/${event.eventId}/checkin-tokens`, headers: adminHeaders });
      expect(listed.json().data).toEqual([expect.objectContaining({ tokenId: door.tokenId,
        revokedAt: null })]);
      expect(JSON.stringify(listed.json())).not.toContain(door.token);
    });

    it('can do nothing else: another event, organizer and customer routes are 403',
      async () => {
        const { event, orderId } = await soldTicket();
        const other = await soldTicket();
        const door = await createToken(event.eventId);
        const elsewhere = await scan(other.event.eventId, door.token, other.code);
        expect(elsewhere.statusCode).toBe(403);
        const attempts = [
          { method: 'GET', url: `/api/v1/admin/events/${event.eventId}/stats` },
          { method: 'POST', url: `/api/v1/admin/events/${event.eventId}/checkin-tokens`,
            payload: {} },
          { method: 'POST', url: `/api/v1/orders/${orderId}/cancel` },
          { method: 'GET', url: `/api/v1/orders/${orderId}` },
          { method: 'GET', url: '/api/v1/me/orders' },
          { method: 'POST', url: `/api/v1/events/${event.eventId}/holds`,
            payload: { seats: ['A-2-1'] } },
        ] as const;
        for (const attempt of attempts) {
          const response = await app.inject({ ...attempt, headers: bearer(door.token) });
          expect(response.statusCode, `${attempt.method} ${attempt.url}`).toBe(403);
        }
        const order = await app.inject({ method: 'GET', url: `/api/v1/orders/${orderId}`,
          headers: adminHeaders });
        expect(order.json().status).toBe('confirmed');
      });

    it('refuses customers at the door, forged tokens, and a revoked token at once',
      async () => {
        const { event, fan, code } = await soldTicket();
        expect((await scan(event.eventId, fan.token, code)).statusCode).toBe(403);
        const door = await createToken(event.eventId);
        const [head, payload, mac] = door.token.split('.');
        const forgedPayload = Buffer.from(JSON.stringify({ tid: door.tokenId,
          eid: event.eventId, exp: Date.now() + 9e9 })).toString('base64url');
        expect((await scan(event.eventId, `${head}.${forgedPayload}.${mac}`, code)).statusCode)
          .toBe(401);
        expect(payload).toBeDefined();
        const revoked = await app.inject({ method: 'DELETE',
          url: `/api/v1/admin/events/${event.eventId}/checkin-tokens/${door.tokenId}`,
          headers: adminHeaders });
        expect(revoked.statusCode).toBe(204);
        const after = await scan(event.eventId, door.token, code);
        expect(after.statusCode).toBe(401);
        const { rows } = await db.query('SELECT checked_in_at FROM order_tickets WHERE code = $1',
          [code]);
        expect(rows).toEqual([{ checked_in_at: null }]);
      });
  });
}
