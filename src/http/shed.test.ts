/**
 * Shoppers first under overload (http/shed.ts): with the node's overload signal up (the
 * `seams.pressure` test seam, not a real stall), a new join and a waiting fan's poll are
 * refused with 429 `rate_limited` and Retry-After, while an admitted fan's hold with a
 * valid pass goes through. The same requests with the signal down go through: the control
 * that shows the refusals come from the signal and nothing else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limits } from '../config/limits.js';
import type { AppContext } from '../context.js';
import { ManualClock } from '../core/clock.js';
import type { LoadSignal } from '../core/pressure.js';
import { waitingRoom } from '../queue/room.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import { buildCustomers, buildEvent } from '../testing/factories.js';
import type { App } from './types.js';

const backends = await testBackends();

/** An overload signal the test raises and lowers. */
class Switch implements LoadSignal {
  up = false;
  overloaded(): boolean {
    return this.up;
  }
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`load shedding on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;
    const pressure = new Switch();
    // Still, unless a test moves it: how fresh the node's memory of the line is must not
    // depend on how fast the machine runs the test.
    const clock = new ManualClock(Date.now());

    beforeAll(async () => {
      db = await backend.open({ poolMax: 6 });
      ({ app, ctx } = await buildTestApp(db, {
        clock, seams: { pressure }, env: { SHED_RETRY_AFTER_SECONDS: '3' },
      }));
    });
    afterAll(async () => {
      await app?.close();
      await db?.close();
    });

    function send(
      method: 'GET' | 'POST', url: string, token: string, headers = {}, payload: object = {},
    ) {
      return app.inject({
        method, url, headers: { authorization: `Bearer ${token}`, ...headers },
        ...(method === 'POST' ? { payload } : {}),
      });
    }

    /** A queued event and an admitted shopper's pass (the row as a tick writes it). */
    async function setUp(): Promise<{ eventId: string; pass: string; shopper: string }> {
      pressure.up = false;
      clock.set(Date.now());
      const { eventId } = await buildEvent(ctx, {
        queue: { enabled: true, admitPerMinute: 60, maxActiveShoppers: 100 },
      });
      const [shopper] = await buildCustomers(ctx, 1);
      const { customerId, token } = shopper as { customerId: string; token: string };
      const { rows } = await db.query<{ pass_id: string; expires_ms: number }>(
        `INSERT INTO queue_admissions (event_id, customer_id, number, pass_id, admitted_at,
                                       claim_by, expires_at, leader_token)
         VALUES ($1, $2, 1000, gen_random_uuid(), now(), now() + interval '120 seconds',
                 now() + interval '600 seconds', 1)
         RETURNING pass_id, extract(epoch FROM expires_at)::float8 * 1000 AS expires_ms`,
        [eventId, customerId]);
      const row = rows[0] as { pass_id: string; expires_ms: number };
      const pass = waitingRoom(ctx).passes.sign({
        eventId, customerId, passId: row.pass_id, number: 1000,
        expiresAtMs: Math.floor(row.expires_ms),
      });
      return { eventId, pass, shopper: token };
    }

    it('sheds a new join and a waiting fan\'s poll, never a hold with a pass', async () => {
      const { eventId, pass, shopper } = await setUp();
      const [waiting, newcomer] = await buildCustomers(ctx, 2);
      const queue = `/api/v1/events/${eventId}/queue`;
      expect((await send('POST', queue, waiting?.token as string)).statusCode).toBe(201);

      pressure.up = true;
      const join = await send('POST', queue, newcomer?.token as string);
      expect(join.statusCode).toBe(429);
      expect(join.headers['retry-after']).toBe('3');
      expect(join.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(join.json()).toMatchObject({ code: 'rate_limited', retryAfterSeconds: 3 });
      const poll = await send('GET', `${queue}/me`, waiting?.token as string);
      expect(poll.statusCode).toBe(429);
      expect(poll.headers['retry-after']).toBe('3');
      const hold = await send('POST', `/api/v1/events/${eventId}/holds`, shopper,
        { 'x-queue-pass': pass }, { zone: 'seats', quantity: 1 });
      expect(hold.json()).toMatchObject({ status: 'held' });
      expect(hold.statusCode).toBe(201);
    });

    it('control: with the signal down the same join and poll go through', async () => {
      const { eventId } = await setUp();
      const [waiting, newcomer] = await buildCustomers(ctx, 2);
      const queue = `/api/v1/events/${eventId}/queue`;
      expect((await send('POST', queue, waiting?.token as string)).statusCode).toBe(201);
      expect((await send('POST', queue, newcomer?.token as string)).statusCode).toBe(201);
      const poll = await send('GET', `${queue}/me`, waiting?.token as string);
      expect(poll.statusCode).toBe(200);
      expect(poll.json()).toMatchObject({ state: 'waiting' });
    });

    it('does not shed a poll once the node\'s view of the line is no longer fresh', async () => {
      const { eventId } = await setUp();
      const [fan] = await buildCustomers(ctx, 1);
      const queue = `/api/v1/events/${eventId}/queue`;
      expect((await send('POST', queue, fan?.token as string)).statusCode).toBe(201);
      pressure.up = true;
      expect((await send('GET', `${queue}/me`, fan?.token as string)).statusCode).toBe(429);
      // The line's status is past what a poll would answer from memory (no tick was heard
      // here: the test runs no admission duty), while the fan's place is still remembered:
      // the line may have reached the fan since.
      expect(limits.queueStatusMemoMs + 1).toBeLessThan(limits.queueMemberMemoMs);
      clock.advance(limits.queueStatusMemoMs + 1);
      const poll = await send('GET', `${queue}/me`, fan?.token as string);
      expect(poll.statusCode).toBe(200);
    });

    it('does not shed a poll when the node does not know its fan to be waiting', async () => {
      const { eventId } = await setUp();
      const [fan] = await buildCustomers(ctx, 1);
      const queue = `/api/v1/events/${eventId}/queue`;
      expect((await send('POST', queue, fan?.token as string)).statusCode).toBe(201);
      // Another node, which never saw this fan: only its memory may shed a poll.
      const { app: other } = await buildTestApp(db, { clock, seams: { pressure } });
      try {
        pressure.up = true;
        const poll = await other.inject({
          method: 'GET', url: `${queue}/me`,
          headers: { authorization: `Bearer ${fan?.token as string}` },
        });
        expect(poll.statusCode).toBe(200);
        expect(poll.json()).toMatchObject({ state: 'waiting' });
      } finally {
        await other.close();
      }
    });
  });
}
