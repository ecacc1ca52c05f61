/**
 * The waitlist over HTTP, on embedded PGlite and on PostgreSQL: joining, leaving, offers on
 * every way tickets come back (release, expiry, cancellation, failed payment), offers that
 * lapse and pass on, offers bought through checkout, the per-customer limit, bad input.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventDetails } from '../catalog/schemas.js';
import type { AppContext } from '../context.js';
import { createRedisCoordinator, type Coordinator } from '../coord/index.js';
import { sweepExpiredHolds } from '../holds/sweeper.js';
import type { App } from '../http/types.js';
import type { SimulatedGateway } from '../payments/simulated.js';
import type { Db } from '../storage/index.js';
import { auditBooking } from '../testing/audit.js';
import { testBackends } from '../testing/backends.js';
import { adminHeaders, buildTestApp } from '../testing/context.js';
import { bearer, buildCustomer, buildEvent, buildVenue } from '../testing/factories.js';
import { installTestGateway } from '../testing/payments.js';
import {
  deleteRedisPrefix, serviceAvailable, testRedisUrl,
} from '../testing/services.js';

const backends = await testBackends();
// On PostgreSQL the nodes' coordination is Redis (the server shape), when it is up.
const redisUp = await serviceAvailable('Redis', testRedisUrl);
const prefix = `test:waitlist:${randomUUID().slice(0, 8)}:`;

interface Fan {
  customerId: string;
  token: string;
}

for (const backend of backends) {
  const redis = backend.name === 'postgres' && redisUp;
  const shape = redis ? `${backend.name} + Redis` : backend.name;
  describe.skipIf(!backend.available)(`the waitlist on ${shape}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;
    let gateway: SimulatedGateway;
    let coord: Coordinator | undefined;

    beforeAll(async () => {
      db = await backend.open();
      coord = redis ? createRedisCoordinator({ url: testRedisUrl, prefix,
        name: 'test-waitlist', logger: { warn: () => undefined } }) : undefined;
      ({ app, ctx } = await buildTestApp(db, { env: { PAYMENT_WINDOW_SECONDS: '600' },
        ...(coord === undefined ? {} : { coord }) }));
      gateway = installTestGateway(app, ctx);
    });
    afterAll(async () => {
      await gateway?.close();
      await app?.close();
      await coord?.close();
      if (redis) await deleteRedisPrefix(prefix);
      await db?.close();
    });

    /** A fresh event: 4 seats (zone seats) and 4 standing units (zone floor). */
    async function smallEvent(maxTicketsPerCustomer = 4): Promise<EventDetails> {
      const venue = await buildVenue(ctx, { rows: 1, seatsPerRow: 4, standing: 4 });
      return await buildEvent(ctx, { venue, maxTicketsPerCustomer });
    }

    async function hold(fan: Fan, eventId: string, body: object): Promise<string> {
      const response = await app.inject({ method: 'POST', url: `/api/v1/events/${eventId}/holds`,
        headers: bearer(fan.token), payload: body });
      expect(response.statusCode, response.body).toBe(201);
      return response.json().holdId as string;
    }

    /** Sells out both zones: seat A-1-1 in its own hold, A-1-2..4 in another, the floor. */
    async function sellOut(eventId: string): Promise<{ single: string; triple: string;
      floor: string; seatHolder: Fan; floorHolder: Fan; }> {
      const seatHolder = await buildCustomer(ctx);
      const floorHolder = await buildCustomer(ctx);
      const single = await hold(seatHolder, eventId, { seats: ['A-1-1'] });
      const triple = await hold(seatHolder, eventId, { seats: ['A-1-2', 'A-1-3', 'A-1-4'] });
      const floor = await hold(floorHolder, eventId, { zone: 'floor', quantity: 4 });
      return { single, triple, floor, seatHolder, floorHolder };
    }

    const join = (fan: Fan, eventId: string, body: unknown) => app.inject({
      method: 'POST', url: `/api/v1/events/${eventId}/waitlist`, headers: bearer(fan.token),
      payload: body as object,
    });
    const leave = (fan: Fan, eventId: string) => app.inject({
      method: 'DELETE', url: `/api/v1/events/${eventId}/waitlist`, headers: bearer(fan.token),
    });
    const release = async (fan: Fan, holdId: string): Promise<void> => {
      const response = await app.inject({ method: 'DELETE', url: `/api/v1/holds/${holdId}`,
        headers: bearer(fan.token) });
      expect(response.statusCode, response.body).toBe(204);
    };
    const myWaitlist = async (fan: Fan) => (await app.inject({ method: 'GET',
      url: '/api/v1/me/waitlist', headers: bearer(fan.token) })).json().data as {
      eventId: string; status: string; position: number | null; holdId?: string;
      quantity: number; zone: string | null;
    }[];
    const myHolds = async (fan: Fan) => (await app.inject({ method: 'GET',
      url: '/api/v1/me/holds', headers: bearer(fan.token) })).json().data as {
      holdId: string; offer?: boolean; items: { seatId: string | null; zone: string }[];
    }[];
    const entryOf = async (fan: Fan, eventId: string) =>
      (await myWaitlist(fan)).find((entry) => entry.eventId === eventId);

    /** Ages a hold past its expiry, as the clock would. */
    async function lapse(holdId: string): Promise<void> {
      await db.query(`UPDATE holds SET expires_at = now() - interval '2 s',
                             claim_expires_at = now() - interval '1 s' WHERE hold_id = $1`,
      [holdId]);
      await db.query(`UPDATE tickets SET hold_expires_at = now() - interval '1 s'
                       WHERE hold_id = $1`, [holdId]);
    }

    async function fans(count: number): Promise<Fan[]> {
      return await Promise.all(Array.from({ length: count }, () => buildCustomer(ctx)));
    }

    it('offers returned tickets earliest first, in full, the rest back on sale', async () => {
      const event = await smallEvent();
      const sold = await sellOut(event.eventId);
      const [first, second, third] = await fans(3) as [Fan, Fan, Fan];
      const joined = await join(first, event.eventId, { zone: 'seats', quantity: 1 });
      expect(joined.statusCode, joined.body).toBe(201);
      expect(joined.json()).toMatchObject({ eventId: event.eventId, zone: 'seats', quantity: 1,
        position: 1, status: 'waiting' });
      expect((await join(second, event.eventId, { zone: 'seats', quantity: 1 })).json().position)
        .toBe(2);
      expect((await join(third, event.eventId, { quantity: 2 })).json())
        .toMatchObject({ position: 3, zone: null });
      // Joining again is idempotent: the same entry, its place kept.
      const again = await join(first, event.eventId, { zone: 'seats', quantity: 3 });
      expect(again.statusCode).toBe(200);
      expect(again.json()).toMatchObject({ position: 1, quantity: 1, status: 'waiting' });

      await release(sold.seatHolder, sold.single);
      const offer = await entryOf(first, event.eventId);
      expect(offer).toMatchObject({ status: 'offered', position: null });
      const held = await myHolds(first);
      expect(held).toHaveLength(1);
      expect(held[0]).toMatchObject({ holdId: offer?.holdId, offer: true,
        items: [{ seatId: 'A-1-1', zone: 'seats' }] });
      expect(await entryOf(second, event.eventId)).toMatchObject({ status: 'waiting',
        position: 1 });
      expect(await entryOf(third, event.eventId)).toMatchObject({ position: 2 });

      // Three seats back: the second fan takes one, the third (any zone) two; none left.
      await release(sold.seatHolder, sold.triple);
      expect((await myHolds(second))[0]?.items.map((i) => i.seatId)).toEqual(['A-1-2']);
      expect((await myHolds(third))[0]?.items.map((i) => i.seatId)).toEqual(['A-1-3', 'A-1-4']);
      // Nobody waits for the floor: its tickets go back to general sale as before.
      await release(sold.floorHolder, sold.floor);
      const buyer = await buildCustomer(ctx);
      await hold(buyer, event.eventId, { zone: 'floor', quantity: 4 });
      const { rows } = await db.query<{ kind: string; n: number }>(
        `SELECT kind, count(*)::int AS n FROM outbox_events WHERE event_id = $1
          GROUP BY kind ORDER BY kind`, [event.eventId]);
      expect(rows.find((row) => row.kind === 'waitlist.offered')?.n).toBe(3);
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });

    it('passes a lapsed offer to the next in line; the first entry is over', async () => {
      const event = await smallEvent();
      const sold = await sellOut(event.eventId);
      const [first, second] = await fans(2) as [Fan, Fan];
      await join(first, event.eventId, { zone: 'seats', quantity: 1 });
      await join(second, event.eventId, { zone: 'seats', quantity: 1 });
      await release(sold.seatHolder, sold.single);
      const offered = await entryOf(first, event.eventId);
      expect(offered?.status).toBe('offered');
      await lapse(offered?.holdId as string);
      // Lazy expiry: the lapsed offer is over at once for its fan, before any sweep.
      expect((await entryOf(first, event.eventId))?.status).toBe('left');
      expect(await sweepExpiredHolds(db)).toMatchObject({ holds: 1, tickets: 1 });
      expect(await entryOf(second, event.eventId)).toMatchObject({ status: 'offered' });
      expect((await myHolds(second))[0]).toMatchObject({ offer: true,
        items: [{ seatId: 'A-1-1' }] });
      expect(await myHolds(first)).toEqual([]);
      // The first fan may join again, at the back.
      expect((await join(first, event.eventId, { zone: 'seats', quantity: 1 })).statusCode)
        .toBe(201);
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });

    it('sells an offer through the normal checkout', async () => {
      const event = await smallEvent();
      const sold = await sellOut(event.eventId);
      const [fan] = await fans(1) as [Fan];
      await join(fan, event.eventId, { zone: 'seats', quantity: 1 });
      await release(sold.seatHolder, sold.single);
      const holdId = (await entryOf(fan, event.eventId))?.holdId as string;
      const response = await app.inject({ method: 'POST', url: `/api/v1/holds/${holdId}/checkout`,
        headers: { ...bearer(fan.token), 'idempotency-key': `offer-${holdId}` },
        payload: { paymentMethod: 'sim_ok' } });
      expect(response.statusCode, response.body).toBe(201);
      expect(response.json()).toMatchObject({ status: 'confirmed', holdId });
      await gateway.flush();
      expect(await entryOf(fan, event.eventId)).toMatchObject({ status: 'fulfilled' });
      // Nothing is left to leave.
      expect((await leave(fan, event.eventId)).statusCode).toBe(404);
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });

    it('offers the tickets of a cancelled order', async () => {
      const event = await smallEvent();
      const sold = await sellOut(event.eventId);
      const paid = await app.inject({ method: 'POST', url: `/api/v1/holds/${sold.triple}/checkout`,
        headers: { ...bearer(sold.seatHolder.token), 'idempotency-key': `c-${sold.triple}` },
        payload: { paymentMethod: 'sim_ok' } });
      expect(paid.json().status).toBe('confirmed');
      const [fan] = await fans(1) as [Fan];
      await join(fan, event.eventId, { zone: 'seats', quantity: 3 });
      const cancelled = await app.inject({ method: 'POST',
        url: `/api/v1/orders/${paid.json().orderId}/cancel`, headers: bearer(sold.seatHolder.token) });
      expect(cancelled.json().status).toBe('cancelled');
      await gateway.flush();
      expect((await myHolds(fan))[0]?.items.map((i) => i.seatId))
        .toEqual(['A-1-2', 'A-1-3', 'A-1-4']);
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });

    it('closes waiting and offered entries when the event is cancelled; no offer follows',
      async () => {
        const event = await smallEvent();
        const sold = await sellOut(event.eventId);
        const [offered, waiting] = await fans(2) as [Fan, Fan];
        expect((await join(offered, event.eventId, { zone: 'floor', quantity: 2 })).statusCode)
          .toBe(201);
        expect((await join(waiting, event.eventId, { quantity: 3 })).statusCode).toBe(201);
        await release(sold.floorHolder, sold.floor);
        expect(await entryOf(offered, event.eventId)).toMatchObject({ status: 'offered' });
        expect(await entryOf(waiting, event.eventId)).toMatchObject({ status: 'waiting' });

        const cancelled = await app.inject({ method: 'POST',
          url: `/api/v1/events/${event.eventId}/cancel`, headers: adminHeaders });
        expect(cancelled.statusCode, cancelled.body).toBe(200);
        expect(await entryOf(offered, event.eventId))
          .toMatchObject({ status: 'closed', position: null });
        expect(await entryOf(waiting, event.eventId))
          .toMatchObject({ status: 'closed', position: null });
        expect((await entryOf(offered, event.eventId))?.holdId).toBeUndefined();
        // Tickets coming back now go to nobody: the list is closed with the event.
        await release(sold.seatHolder, sold.triple);
        expect(await myHolds(waiting)).toEqual([]);
        expect(await auditBooking(db, event.eventId)).toEqual([]);
      });

    it('offers the tickets of a payment that failed after its hold lapsed', async () => {
      const event = await smallEvent();
      const sold = await sellOut(event.eventId);
      const pending = await app.inject({ method: 'POST',
        url: `/api/v1/holds/${sold.single}/checkout`,
        headers: { ...bearer(sold.seatHolder.token), 'idempotency-key': `p-${sold.single}` },
        payload: { paymentMethod: 'sim_async_ok' } });
      expect(pending.json().status).toBe('pending_payment');
      const [fan] = await fans(1) as [Fan];
      await join(fan, event.eventId, { zone: 'seats', quantity: 1 });
      // The payment window passes before the capture arrives: refunded, tickets returned.
      await lapse(sold.single);
      await gateway.flush();
      await gateway.flush();
      const order = (await app.inject({ method: 'GET',
        url: `/api/v1/orders/${pending.json().orderId}`, headers: bearer(sold.seatHolder.token),
      })).json();
      expect(order.status).toBe('payment_failed');
      expect((await myHolds(fan))[0]).toMatchObject({ offer: true,
        items: [{ seatId: 'A-1-1' }] });
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });

    it('never offers past the per-customer limit; that fan keeps their place', async () => {
      const event = await smallEvent(2);
      const holders = await fans(4);
      const holds = await Promise.all(holders.map((fan, i) =>
        hold(fan, event.eventId, { seats: [`A-1-${i + 1}`] })));
      const floorHolders = await fans(2);
      const floorHolds = await Promise.all(floorHolders.map((fan) =>
        hold(fan, event.eventId, { zone: 'floor', quantity: 2 })));
      const [greedy, patient] = await fans(2) as [Fan, Fan];
      expect((await join(greedy, event.eventId, { zone: 'seats', quantity: 2 })).statusCode)
        .toBe(201);
      expect((await join(patient, event.eventId, { zone: 'seats', quantity: 2 })).statusCode)
        .toBe(201);
      // The greedy fan buys a floor ticket in general sale meanwhile: room for one more.
      await release(floorHolders[0] as Fan, floorHolds[0] as string);
      await hold(greedy, event.eventId, { zone: 'floor', quantity: 1 });
      await release(holders[0] as Fan, holds[0] as string);
      await release(holders[1] as Fan, holds[1] as string);
      // Two seats came back, one at a time: the second return could serve 2 in full only
      // together with the first, which went back on sale; so nobody is offered yet.
      expect(await entryOf(patient, event.eventId)).toMatchObject({ status: 'waiting' });
      await release(holders[2] as Fan, holds[2] as string);
      expect(await entryOf(patient, event.eventId)).toMatchObject({ status: 'waiting' });
      // Return two at once (a cancelled pair would): the greedy fan is skipped, keeps place.
      const pair = await fans(1);
      const pairHold = await hold(pair[0] as Fan, event.eventId, { seats: ['A-1-1', 'A-1-2'] });
      await hold(await buildCustomer(ctx), event.eventId, { seats: ['A-1-3'] });
      await release(pair[0] as Fan, pairHold);
      expect(await entryOf(greedy, event.eventId)).toMatchObject({ status: 'waiting',
        position: 1 });
      expect(await entryOf(patient, event.eventId)).toMatchObject({ status: 'offered' });
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });

    it('refuses bad waitlist requests with 4xx and changes nothing', async () => {
      const event = await smallEvent();
      const [fan] = await fans(1) as [Fan];
      const count = async () => JSON.stringify((await db.query(
        `SELECT (SELECT count(*) FROM waitlist_entries) AS w,
                (SELECT count(*) FROM outbox_events) AS o, (SELECT count(*) FROM holds) AS h`,
      )).rows[0]);
      // Tickets are on sale: no need to wait.
      const before = await count();
      const open = await join(fan, event.eventId, { zone: 'seats', quantity: 2 });
      expect(open.statusCode).toBe(409);
      expect(open.json()).toMatchObject({ code: 'tickets_available' });
      await sellOut(event.eventId);
      const mid = await count();
      for (const body of [{}, { quantity: 0 }, { quantity: 51 }, { quantity: '2' },
        { quantity: 1.5 }, { quantity: 1, extra: true }, { zone: 'a b', quantity: 1 },
        { zone: 'nope', quantity: 1 }, []]) {
        const response = await join(fan, event.eventId, body);
        expect(response.statusCode, JSON.stringify(body)).toBe(400);
        expect(response.json().code).toBe('validation_failed');
      }
      const over = await join(fan, event.eventId, { quantity: 5 });
      expect(over.statusCode).toBe(422);
      expect(over.json().code).toBe('limit_exceeded');
      expect((await app.inject({ method: 'POST', url: `/api/v1/events/${event.eventId}/waitlist`,
        payload: { quantity: 1 } })).statusCode).toBe(401);
      for (const id of ['not-a-uuid', '00000000-0000-4000-8000-000000000000']) {
        expect((await join(fan, id, { quantity: 1 })).statusCode).toBe(404);
        expect((await leave(fan, id)).statusCode).toBe(404);
      }
      expect(await count()).toBe(mid);
      expect(before).not.toBe(mid); // the sell-out itself did change things
    });

    it('leaves once (a second leave is 404); leaving an offer passes it on', async () => {
      const event = await smallEvent();
      const sold = await sellOut(event.eventId);
      const [first, second] = await fans(2) as [Fan, Fan];
      await join(first, event.eventId, { zone: 'seats', quantity: 1 });
      await join(second, event.eventId, { zone: 'seats', quantity: 1 });
      expect((await leave(second, event.eventId)).statusCode).toBe(204);
      const twice = await leave(second, event.eventId);
      expect(twice.statusCode).toBe(404);
      expect(twice.json().code).toBe('not_found');
      expect(await entryOf(second, event.eventId)).toMatchObject({ status: 'left' });
      // Back at the end of the line.
      expect((await join(second, event.eventId, { zone: 'seats', quantity: 1 })).json())
        .toMatchObject({ position: 2 });
      await release(sold.seatHolder, sold.single);
      expect((await entryOf(first, event.eventId))?.status).toBe('offered');
      expect((await leave(first, event.eventId)).statusCode).toBe(204);
      expect(await myHolds(first)).toEqual([]);
      expect(await entryOf(second, event.eventId)).toMatchObject({ status: 'offered' });
      expect((await leave(first, event.eventId)).statusCode).toBe(404);
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });
  });
}
