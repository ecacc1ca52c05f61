/**
 * A retry of an answered hold whose queue pass has since died (SPEC §6: a retry with the same
 * Idempotency-Key returns the first response). A fan whose connection dropped after the hold
 * was made retries with the same key and body; by then the pass may be used up (their order
 * completed), or past its expiry on the node's clock. The retry gets the hold back, not 403.
 * The gate is not weakened for anything that is not such a retry: a new key, the same key
 * with another body, or the same key string of another customer still needs a live pass.
 * The same once the sale is over (the event started since): the hold comes back, a new
 * request hears not_on_sale. On both databases, over app.inject, with a manual clock (no
 * sleeps).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import { ManualClock } from '../core/clock.js';
import type { App } from '../http/types.js';
import { releaseShopperSlot } from '../queue/admission.js';
import { waitingRoom } from '../queue/room.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import { bearer, buildCustomers, buildEvent } from '../testing/factories.js';

const backends = await testBackends();

interface Shopper {
  customerId: string;
  token: string;
  pass: string;
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`a hold retry with a dead pass on ${backend.name}`, () => {
    let db: Db;
    let ctx: AppContext;
    let app: App;
    const clock = new ManualClock(Date.now());

    beforeAll(async () => {
      db = await backend.open();
      ({ app, ctx } = await buildTestApp(db, { clock }));
    });
    afterAll(async () => {
      await app?.close();
      await db?.close();
    });

    /** A queued event and `n` customers admitted to it (rows as a tick writes them). */
    async function admitted(
      n: number, startsAtMs?: number,
    ): Promise<{ eventId: string; shoppers: Shopper[] }> {
      const { eventId } = await buildEvent(ctx, {
        queue: { enabled: true, admitPerMinute: 60, maxActiveShoppers: 100 },
        ...(startsAtMs === undefined ? {} : { startsAt: new Date(startsAtMs).toISOString() }),
      });
      const shoppers: Shopper[] = [];
      for (const [i, customer] of (await buildCustomers(ctx, n)).entries()) {
        const { rows } = await db.query<{ pass_id: string }>(
          `INSERT INTO queue_admissions (event_id, customer_id, number, pass_id, admitted_at,
                                         claim_by, expires_at, leader_token)
           VALUES ($1, $2, $3, gen_random_uuid(), now(), now() + interval '120 seconds',
                   now() + interval '600 seconds', 1)
           RETURNING pass_id`,
          [eventId, customer.customerId, i + 1]);
        const passId = (rows[0] as { pass_id: string }).pass_id;
        const pass = waitingRoom(ctx).passes.sign({
          eventId, customerId: customer.customerId, passId, number: i + 1,
          expiresAtMs: clock.nowMs() + 60_000,
        });
        shoppers.push({ customerId: customer.customerId, token: customer.token, pass });
      }
      return { eventId, shoppers };
    }

    function hold(eventId: string, shopper: Shopper, key: string, quantity = 1) {
      return app.inject({
        method: 'POST', url: `/api/v1/events/${eventId}/holds`,
        headers: { ...bearer(shopper.token), 'x-queue-pass': shopper.pass, 'idempotency-key': key },
        payload: { zone: 'floor', quantity },
      });
    }

    it('replays the first reply once the order used the pass up; anything else is refused',
      async () => {
        const { eventId, shoppers: [fan, other] } = await admitted(2);
        const first = await hold(eventId, fan!, 'k-dropped');
        expect(first.statusCode, first.body).toBe(201);
        // The order completed: the admission row refuses the pass as used up (in the batch).
        expect(await releaseShopperSlot(db, eventId, fan!.customerId)).toBe(true);

        const retry = await hold(eventId, fan!, 'k-dropped');
        expect(retry.statusCode, retry.body).toBe(201);
        expect(retry.headers['idempotent-replayed']).toBe('true');
        expect(retry.json()).toEqual(first.json());

        const fresh = await hold(eventId, fan!, 'k-new');
        expect(fresh.statusCode, fresh.body).toBe(403);
        expect(fresh.json()).toMatchObject({ code: 'queue_pass_required' });
        const otherBody = await hold(eventId, fan!, 'k-dropped', 2);
        expect(otherBody.statusCode, otherBody.body).toBe(403);
        expect(otherBody.json()).toMatchObject({ code: 'queue_pass_required' });
        // Another customer's requests never see this customer's record: the same key string
        // and body with a live pass places a hold of their own; with a dead pass, 403.
        const theirs = await hold(eventId, other!, 'k-dropped');
        expect(theirs.statusCode, theirs.body).toBe(201);
        expect(theirs.json().holdId).not.toBe(first.json().holdId);
        expect(await releaseShopperSlot(db, eventId, other!.customerId)).toBe(true);
        const theirRetry = await hold(eventId, other!, 'k-dropped');
        expect(theirRetry.json().holdId).toBe(theirs.json().holdId);

        const { rows } = await db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM holds WHERE event_id = $1', [eventId]);
        expect(rows[0]?.n).toBe(2);
      });

    it('replays the first reply once the pass expired on the node\'s clock', async () => {
      const { eventId, shoppers: [fan] } = await admitted(1);
      const first = await hold(eventId, fan!, 'k-late');
      expect(first.statusCode, first.body).toBe(201);
      clock.advance(61_000);

      const retry = await hold(eventId, fan!, 'k-late');
      expect(retry.statusCode, retry.body).toBe(201);
      expect(retry.headers['idempotent-replayed']).toBe('true');
      expect(retry.json()).toEqual(first.json());
      const fresh = await hold(eventId, fan!, 'k-other');
      expect(fresh.statusCode, fresh.body).toBe(403);
      expect(fresh.json()).toMatchObject({ code: 'queue_pass_required' });
    });

    it('replays the first reply once the sale is over; a new request hears not_on_sale',
      async () => {
        const startsInMs = 10 * 60_000;
        const { eventId, shoppers: [fan] } = await admitted(1, clock.nowMs() + startsInMs);
        const first = await hold(eventId, fan!, 'k-closed');
        expect(first.statusCode, first.body).toBe(201);
        // The event starts: the sale window is closed for new holds (past the clock margin).
        clock.advance(startsInMs + 60_000);

        const retry = await hold(eventId, fan!, 'k-closed');
        expect(retry.statusCode, retry.body).toBe(201);
        expect(retry.headers['idempotent-replayed']).toBe('true');
        expect(retry.json()).toEqual(first.json());
        const fresh = await hold(eventId, fan!, 'k-after');
        expect(fresh.statusCode, fresh.body).toBe(403);
        expect(fresh.json()).toMatchObject({ code: 'not_on_sale' });
        const otherBody = await hold(eventId, fan!, 'k-closed', 2);
        expect(otherBody.statusCode, otherBody.body).toBe(403);
        expect(otherBody.json()).toMatchObject({ code: 'not_on_sale' });
      });
  });
}
