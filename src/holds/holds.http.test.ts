import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventDetails } from '../catalog/schemas.js';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import { auditBooking } from '../testing/audit.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import { bearer, buildCustomer, buildEvent } from '../testing/factories.js';
import type { Db } from '../storage/index.js';
import { sweepExpiredHolds } from './sweeper.js';

const backends = await testBackends();

/** Everything that changes when a hold is made, to prove a refused request changed nothing. */
async function snapshot(db: Db): Promise<string> {
  const { rows } = await db.query(
    `SELECT (SELECT count(*) FROM holds) AS holds, (SELECT count(*) FROM hold_items) AS items,
            (SELECT count(*) FROM outbox_events) AS outbox,
            (SELECT count(*) FROM tickets WHERE hold_id IS NOT NULL OR order_id IS NOT NULL)
              AS claimed,
            (SELECT count(*) FROM idempotency_keys) AS keys`,
  );
  return JSON.stringify(rows[0]);
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`holds over HTTP on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;
    let event: EventDetails;
    let fan: { customerId: string; token: string };
    let other: { customerId: string; token: string };

    beforeAll(async () => {
      db = await backend.open();
      ({ app, ctx } = await buildTestApp(db));
      event = await buildEvent(ctx, { maxTicketsPerCustomer: 6, holdExtensionSeconds: 120 });
      fan = await buildCustomer(ctx);
      other = await buildCustomer(ctx);
    });
    afterAll(async () => {
      await app?.close();
      await db?.close();
    });

    const hold = (token: string, body: unknown, headers: Record<string, string> = {}) =>
      app.inject({
        method: 'POST', url: `/api/v1/events/${event.eventId}/holds`,
        headers: { ...bearer(token), ...headers }, payload: body as object,
      });

    it('holds named seats all or nothing, with locked prices', async () => {
      const response = await hold(fan.token, { seats: ['A-1-1', 'A-1-2'] });
      expect(response.statusCode).toBe(201);
      const body = response.json();
      expect(body).toMatchObject({
        eventId: event.eventId, status: 'held', adjacent: true, totalCents: 10_000,
        currency: 'EUR', extended: false,
      });
      expect(body.items.map((i: { seatId: string }) => i.seatId)).toEqual(['A-1-1', 'A-1-2']);
      const taken = await hold(other.token, { seats: ['A-1-3', 'A-1-2'] });
      expect(taken.statusCode).toBe(409);
      expect(taken.json()).toMatchObject({ code: 'seats_unavailable', unavailable: ['A-1-2'] });
      // All or nothing: A-1-3 was not kept.
      const free = await hold(other.token, { seats: ['A-1-3'] });
      expect(free.statusCode).toBe(201);
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });

    it("answers another customer's hold as not found", async () => {
      const mine = (await hold(fan.token, { seats: ['A-2-1'] })).json();
      for (const [method, url] of [
        ['GET', `/api/v1/holds/${mine.holdId}`], ['DELETE', `/api/v1/holds/${mine.holdId}`],
        ['POST', `/api/v1/holds/${mine.holdId}/extend`],
      ] as const) {
        const response = await app.inject({ method, url, headers: bearer(other.token) });
        expect(response.statusCode, `${method} ${url}`).toBe(404);
      }
      const checkout = await app.inject({
        method: 'POST', url: `/api/v1/holds/${mine.holdId}/checkout`,
        headers: { ...bearer(other.token), 'idempotency-key': 'k-1' },
        payload: { paymentMethod: 'sim_ok' },
      });
      expect(checkout.statusCode).toBe(404);
      const still = await app.inject({ method: 'GET', url: `/api/v1/holds/${mine.holdId}`,
        headers: bearer(fan.token) });
      expect(still.json().status).toBe('held');
    });

    it('refuses bad bodies with 4xx and changes nothing', async () => {
      const before = await snapshot(db);
      const bad: unknown[] = [
        {}, { seats: [] }, { seats: ['A-1-9', 'A-1-9'] }, { seats: 'A-1-9' },
        { seats: ['A-1-9'], zone: 'seats' }, { zone: 'seats' }, { zone: 'seats', quantity: 0 },
        { zone: 'seats', quantity: '2' }, { zone: 'seats', quantity: 2.5 },
        { zone: 'nope', quantity: 1 }, { seats: ['Z-9-99'] }, { seats: ['A-1-9'], extra: 1 },
        { zone: 'seats', quantity: 51 }, { seats: ['<script>'] },
      ];
      for (const body of bad) {
        const response = await hold(fan.token, body);
        expect(response.statusCode, JSON.stringify(body)).toBe(400);
        expect(response.json().code).toBe('validation_failed');
      }
      const notJson = await app.inject({
        method: 'POST', url: `/api/v1/events/${event.eventId}/holds`,
        headers: { ...bearer(fan.token), 'content-type': 'application/json' }, payload: '{"seats":',
      });
      expect(notJson.statusCode).toBe(400);
      expect((await hold('not-a-token', { seats: ['A-1-9'] })).statusCode).toBe(401);
      const missing = await app.inject({
        method: 'POST', url: '/api/v1/events/00000000-0000-4000-8000-000000000000/holds',
        headers: bearer(fan.token), payload: { seats: ['A-1-9'] },
      });
      expect(missing.statusCode).toBe(404);
      expect(await snapshot(db)).toBe(before);
    });

    it('names the field at fault when a body of either shape has a bad value', async () => {
      const cases: [unknown, string, string][] = [
        [{ zone: 'seats', quantity: 0 }, '/quantity', 'must be >= 1'],
        [{ zone: 'seats', quantity: 51 }, '/quantity', 'must be <= 50'],
        [{ zone: 'seats', quantity: 2.5 }, '/quantity', 'must be integer'],
        [{ seats: ['<script>'] }, '/seats/0', 'must match pattern'],
      ];
      for (const [body, field, message] of cases) {
        const response = await hold(fan.token, body);
        expect(response.statusCode).toBe(400);
        const problem = response.json();
        expect(problem.detail, JSON.stringify(body)).toContain(`body ${field}: ${message}`);
        // Only the shape the client sent: not "seats is missing" for a zone request.
        expect(problem.errors.map((e: { field: string }) => e.field)).toEqual([field]);
      }
    });

    it('picks best available: adjacent, front row, centre, no orphan', async () => {
      const response = await hold(other.token, { zone: 'seats', quantity: 2 });
      expect(response.statusCode).toBe(201);
      const body = response.json();
      expect(body.adjacent).toBe(true);
      // Row 1 has 1-3 taken, 4..10 free. 5-6 is the centre but strands seat 4; 4-5 and 6-7
      // are equally central and strand nothing; the tie goes to the lower seat numbers.
      expect(body.items.map((i: { seatId: string }) => i.seatId)).toEqual(['A-1-4', 'A-1-5']);
    });

    it('takes standing units by quantity and enforces the per-customer limit', async () => {
      const customer = await buildCustomer(ctx);
      const first = await hold(customer.token, { zone: 'floor', quantity: 4 });
      expect(first.statusCode).toBe(201);
      expect(first.json().items).toHaveLength(4);
      expect(first.json().items[0])
        .toMatchObject({ seatId: null, zone: 'floor', priceCents: 3_000 });
      const before = await snapshot(db);
      const over = await hold(customer.token, { zone: 'seats', quantity: 3 });
      expect(over.statusCode).toBe(422);
      expect(over.json()).toMatchObject({ code: 'limit_exceeded', limit: 6, current: 4 });
      expect(await snapshot(db)).toBe(before);
      expect((await hold(customer.token, { zone: 'seats', quantity: 2 })).statusCode).toBe(201);
    });

    it('enforces the limit when one customer fires many holds at once', async () => {
      const greedy = await buildCustomer(ctx);
      const responses = await Promise.all(Array.from({ length: 12 }, () =>
        hold(greedy.token, { zone: 'floor', quantity: 1 })));
      expect(responses.filter((r) => r.statusCode === 201)).toHaveLength(6);
      expect(responses.filter((r) => r.statusCode === 422)).toHaveLength(6);
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });

    it('lists, extends once and releases holds', async () => {
      const customer = await buildCustomer(ctx);
      const created = (await hold(customer.token, { seats: ['A-5-1'] })).json();
      const list = await app.inject({ method: 'GET', url: '/api/v1/me/holds',
        headers: bearer(customer.token) });
      expect(list.json().data.map((h: { holdId: string }) => h.holdId)).toEqual([created.holdId]);
      const extended = await app.inject({ method: 'POST',
        url: `/api/v1/holds/${created.holdId}/extend`, headers: bearer(customer.token) });
      expect(extended.statusCode).toBe(200);
      expect(Date.parse(extended.json().expiresAt) - Date.parse(created.expiresAt))
        .toBe(120_000);
      expect(extended.json().extended).toBe(true);
      const again = await app.inject({ method: 'POST',
        url: `/api/v1/holds/${created.holdId}/extend`, headers: bearer(customer.token) });
      expect(again.json().code).toBe('extension_used');
      const released = await app.inject({ method: 'DELETE',
        url: `/api/v1/holds/${created.holdId}`, headers: bearer(customer.token) });
      expect(released.statusCode).toBe(204);
      const twice = await app.inject({ method: 'DELETE',
        url: `/api/v1/holds/${created.holdId}`, headers: bearer(customer.token) });
      expect(twice.statusCode).toBe(204);
      const after = await app.inject({ method: 'GET', url: `/api/v1/holds/${created.holdId}`,
        headers: bearer(customer.token) });
      expect(after.json().status).toBe('released');
      const { rows } = await db.query<{ kind: string; payload: { reason?: string } }>(
        `SELECT kind, payload FROM outbox_events
          WHERE payload->>'holdId' = $1 ORDER BY outbox_id`, [created.holdId]);
      expect(rows.map((r) => [r.kind, r.payload.reason])).toEqual([
        ['seats.held', undefined], ['seats.released', 'released']]);
      const extendReleased = await app.inject({ method: 'POST',
        url: `/api/v1/holds/${created.holdId}/extend`, headers: bearer(customer.token) });
      expect(extendReleased.json().code).toBe('hold_expired');
    });

    it('lets others claim an expired hold at once; the sweeper only tidies', async () => {
      const a = await buildCustomer(ctx);
      const b = await buildCustomer(ctx);
      const first = (await hold(a.token, { seats: ['A-4-5'] })).json();
      await db.query(
        `UPDATE holds SET expires_at = now() - interval '1 second',
                          claim_expires_at = now() - interval '1 second' WHERE hold_id = $1;`,
        [first.holdId]);
      await db.query(`UPDATE tickets SET hold_expires_at = now() - interval '1 second'
                       WHERE hold_id = $1`, [first.holdId]);
      // No sweeper has run: the seat is free for b anyway (lazy expiry).
      const second = await hold(b.token, { seats: ['A-4-5'] });
      expect(second.statusCode).toBe(201);
      const stale = await app.inject({ method: 'GET', url: `/api/v1/holds/${first.holdId}`,
        headers: bearer(a.token) });
      expect(stale.json().status).toBe('expired');
      // The stale hold's id fences it: releasing it leaves b's claim alone.
      await app.inject({ method: 'DELETE', url: `/api/v1/holds/${first.holdId}`,
        headers: bearer(a.token) });
      const { rows } = await db.query<{ hold_id: string }>(
        `SELECT hold_id FROM tickets WHERE event_id = $1 AND seat_id = 'A-4-5'`,
        [event.eventId]);
      expect(rows[0]?.hold_id).toBe(second.json().holdId);
      const sweep = await sweepExpiredHolds(db);
      expect(sweep.tickets).toBe(0);
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });

    it('replays a hold for a repeated Idempotency-Key; another body conflicts', async () => {
      const customer = await buildCustomer(ctx);
      const key = { 'idempotency-key': 'hold-once-1' };
      const one = await hold(customer.token, { seats: ['A-3-3'] }, key);
      const two = await hold(customer.token, { seats: ['A-3-3'] }, key);
      expect(one.statusCode).toBe(201);
      expect(two.statusCode).toBe(201);
      expect(two.json()).toEqual(one.json());
      expect(two.headers['idempotent-replayed']).toBe('true');
      const conflict = await hold(customer.token, { seats: ['A-3-4'] }, key);
      expect(conflict.statusCode).toBe(409);
      expect(conflict.json().code).toBe('idempotency_conflict');
    });

    it('refuses holds when the event is not on sale', async () => {
      const later = await buildEvent(ctx, {
        onSaleAt: new Date(Date.now() + 3_600_000).toISOString(),
      });
      const response = await app.inject({
        method: 'POST', url: `/api/v1/events/${later.eventId}/holds`,
        headers: bearer(fan.token), payload: { seats: ['A-1-1'] },
      });
      expect(response.statusCode).toBe(403);
      expect(response.json().code).toBe('not_on_sale');
    });
  });
}
