/**
 * Conflicting requests inside one hold batch (group commit, batch.ts), over real HTTP on a
 * real port. The batchers are held back while the requests arrive (a GatherGate, the
 * apps' `seams.holdBatches`), so they are decided by one call of the batch function, in
 * arrival order. Each race also runs as a control on a
 * second app over the same database with exactly one production guard removed
 * (`AppContext.unguarded`, see claim.ts Guard), to show the race is real and the test
 * sees the violation the guard prevents. Inside one batch the requests overlap on both
 * backends, so the controls run on PGlite too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import type { Db } from '../storage/index.js';
import { auditBooking } from '../testing/audit.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import { buildCustomers, buildEvent, buildVenue } from '../testing/factories.js';
import { GatherGate } from '../testing/holdGate.js';
import type { Guard } from './claim.js';

const backends = await testBackends();

interface Reply {
  status: number;
  code?: string;
  holdId?: string;
  replayed: boolean;
}

interface Shot {
  token: string;
  body: object;
  key?: string;
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`one hold batch, conflicting requests, on ${
    backend.name}`, () => {
    let db: Db;
    let ctx: AppContext;
    const apps: App[] = [];
    const bases = new Map<'guarded' | Guard, string>();
    const gate = new GatherGate();
    const seams = { holdBatches: gate };

    beforeAll(async () => {
      db = await backend.open({ poolMax: 10 });
      const built = await buildTestApp(db, { seams });
      ctx = built.ctx;
      apps.push(built.app);
      bases.set('guarded', await built.app.listen({ port: 0, host: '127.0.0.1' }));
      for (const guard of ['tickets', 'customer-limit', 'idempotency-key'] as const) {
        const { app } = await buildTestApp(db, { unguarded: guard, seams });
        apps.push(app);
        bases.set(guard, await app.listen({ port: 0, host: '127.0.0.1' }));
      }
    });
    afterAll(async () => {
      for (const app of apps) await app.close();
      await db?.close();
    });

    /**
     * Sends the shots while the event's batches are held back, each once the one before it
     * has queued (so the batch order is the order here); the last one lets them go as one
     * batch.
     */
    async function oneBatch(
      eventId: string, shots: Shot[], via: 'guarded' | Guard = 'guarded',
    ): Promise<Reply[]> {
      const base = bases.get(via) as string;
      const released = gate.gather(eventId, shots.length);
      const replies: Promise<Reply>[] = [];
      for (const [i, shot] of shots.entries()) {
        replies.push((async () => {
          const response = await fetch(`${base}/api/v1/events/${eventId}/holds`, {
            method: 'POST', body: JSON.stringify(shot.body),
            headers: {
              authorization: `Bearer ${shot.token}`, 'content-type': 'application/json',
              ...(shot.key === undefined ? {} : { 'idempotency-key': shot.key }),
            },
          });
          const json = (await response.json()) as { code?: string; holdId?: string };
          return { status: response.status, code: json.code, holdId: json.holdId,
            replayed: response.headers.get('idempotent-replayed') === 'true' };
        })());
        if (i + 1 < shots.length) await gate.queued(eventId, i + 1);
      }
      await released;
      return await Promise.all(replies);
    }

    async function seatTwice(
      via: 'guarded' | Guard = 'guarded',
    ): Promise<{ replies: Reply[]; eventId: string }> {
      const event = await buildEvent(ctx);
      const [a, b, c] = await buildCustomers(ctx, 3);
      const replies = await oneBatch(event.eventId, [
        { token: a?.token ?? '', body: { seats: ['A-2-2'] } },
        { token: b?.token ?? '', body: { seats: ['A-2-3', 'A-2-2'] } },
        { token: c?.token ?? '', body: { seats: ['A-2-4'] } },
      ], via);
      return { replies, eventId: event.eventId };
    }

    it('without the claim check, the same seat twice in one batch is sold twice', async () => {
      const { replies, eventId } = await seatTwice('tickets');
      expect(replies.map((r) => r.status)).toEqual([201, 201, 201]);
      expect(await auditBooking(db, eventId)).not.toEqual([]);
    });

    it('the same seat twice in one batch: first come first served, the others unharmed',
      async () => {
        const { replies, eventId } = await seatTwice();
        expect(replies.map((r) => [r.status, r.code])).toEqual(
          [[201, undefined], [409, 'seats_unavailable'], [201, undefined]]);
        // All or nothing: the refused request's free seat A-2-3 was not taken.
        const { rows } = await db.query<{ seat_id: string }>(
          `SELECT seat_id FROM tickets WHERE event_id = $1 AND hold_id IS NOT NULL
            ORDER BY seat_id`, [eventId]);
        expect(rows.map((r) => r.seat_id)).toEqual(['A-2-2', 'A-2-4']);
        expect(await auditBooking(db, eventId)).toEqual([]);
      });

    async function overLimit(
      via: 'guarded' | Guard = 'guarded',
    ): Promise<{ replies: Reply[]; eventId: string; held: number }> {
      const venue = await buildVenue(ctx, { standing: 100 });
      const event = await buildEvent(ctx, { venue, maxTicketsPerCustomer: 4 });
      const [fan] = await buildCustomers(ctx, 1);
      const token = fan?.token ?? '';
      const replies = await oneBatch(event.eventId, [1, 2, 3].map(() =>
        ({ token, body: { zone: 'floor', quantity: 2 } })), via);
      const { rows } = await db.query<{ n: number }>(
        `SELECT coalesce(sum(quantity), 0)::int AS n FROM holds
          WHERE event_id = $1 AND customer_id = $2 AND state = 'held'`,
        [event.eventId, fan?.customerId]);
      return { replies, eventId: event.eventId, held: rows[0]?.n ?? -1 };
    }

    it('without the limit check, one customer goes over the limit within a batch', async () => {
      const { replies, held } = await overLimit('customer-limit');
      expect(replies.map((r) => r.status)).toEqual([201, 201, 201]);
      expect(held).toBe(6);
    });

    it('the per-customer limit counts the earlier requests of the same batch', async () => {
      const { replies, held, eventId } = await overLimit();
      expect(replies.map((r) => [r.status, r.code])).toEqual(
        [[201, undefined], [201, undefined], [422, 'limit_exceeded']]);
      expect(held).toBe(4);
      expect(await auditBooking(db, eventId)).toEqual([]);
    });

    it('standing requests of one batch get different units; the one left short is refused',
      async () => {
        // The batch writes its grants after deciding them all: each standing request must
        // skip the units the earlier ones chose, and count them as gone.
        const venue = await buildVenue(ctx, { standing: 5 });
        const event = await buildEvent(ctx, { venue, maxTicketsPerCustomer: 4 });
        const fans = await buildCustomers(ctx, 3);
        const replies = await oneBatch(event.eventId, fans.map((fan) =>
          ({ token: fan.token, body: { zone: 'floor', quantity: 2 } })));
        expect(replies.map((r) => [r.status, r.code])).toEqual(
          [[201, undefined], [201, undefined], [409, 'insufficient_inventory']]);
        const { rows } = await db.query<{ n: number }>(
          `SELECT count(DISTINCT i.ticket_no)::int AS n FROM hold_items i
             JOIN holds h ON h.hold_id = i.hold_id
            WHERE h.event_id = $1 AND h.state = 'held'`, [event.eventId]);
        expect(rows[0]?.n).toBe(4);
        expect(await auditBooking(db, event.eventId)).toEqual([]);
      });

    async function keyTwice(
      via: 'guarded' | Guard = 'guarded',
    ): Promise<{ replies: Reply[]; eventId: string; holds: number }> {
      const venue = await buildVenue(ctx, { standing: 100 });
      const event = await buildEvent(ctx, { venue });
      const [fan] = await buildCustomers(ctx, 1);
      const shot = { token: fan?.token ?? '', body: { zone: 'floor', quantity: 1 },
        key: 'same-key' };
      const replies = await oneBatch(event.eventId, [shot, shot], via);
      const { rows } = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM holds WHERE event_id = $1', [event.eventId]);
      return { replies, eventId: event.eventId, holds: rows[0]?.n ?? -1 };
    }

    it('without the key check, one Idempotency-Key twice in a batch makes two holds',
      async () => {
        const { replies, holds } = await keyTwice('idempotency-key');
        expect(replies.map((r) => r.status)).toEqual([201, 201]);
        expect(replies[0]?.holdId).not.toBe(replies[1]?.holdId);
        expect(holds).toBe(2);
      });

    it('one Idempotency-Key twice in a batch: one hold, the second is its replay', async () => {
      const { replies, holds, eventId } = await keyTwice();
      expect(replies.map((r) => [r.status, r.replayed])).toEqual([[201, false], [201, true]]);
      expect(replies[1]?.holdId).toBe(replies[0]?.holdId);
      expect(holds).toBe(1);
      expect(await auditBooking(db, eventId)).toEqual([]);
    });

    /**
     * Fan R (never seen by this node, so the auth hook leaves the version check to the
     * batch) names seat A-2-2 first in the batch, with an Idempotency-Key; fan B names the
     * same seat after. With `revoke`, R's tokens were revoked behind this node's back (as
     * another node does; nothing tells this node's cache).
     */
    async function revokedFirst(revoke: boolean): Promise<{
      replies: Reply[]; eventId: string; rHolds: number; rKeys: number; rToken: string;
    }> {
      const event = await buildEvent(ctx);
      const [r, b] = await buildCustomers(ctx, 2);
      if (revoke) {
        await db.query(
          'UPDATE customers SET token_version = token_version + 1 WHERE customer_id = $1',
          [r?.customerId]);
      }
      const replies = await oneBatch(event.eventId, [
        { token: r?.token ?? '', body: { seats: ['A-2-2'] }, key: 'r-key' },
        { token: b?.token ?? '', body: { seats: ['A-2-2'] } },
      ]);
      const { rows } = await db.query<{ holds: number; keys: number }>(
        `SELECT (SELECT count(*)::int FROM holds WHERE customer_id = $1) AS holds,
                (SELECT count(*)::int FROM idempotency_keys WHERE customer_id = $1) AS keys`,
        [r?.customerId]);
      return { replies, eventId: event.eventId, rHolds: rows[0]?.holds ?? -1,
        rKeys: rows[0]?.keys ?? -1, rToken: r?.token ?? '' };
    }

    it('control: the same batch with a current token gives the first requester the seat',
      async () => {
        const { replies, rHolds, rKeys } = await revokedFirst(false);
        expect(replies.map((r) => [r.status, r.code])).toEqual(
          [[201, undefined], [409, 'seats_unavailable']]);
        expect([rHolds, rKeys]).toEqual([1, 1]);
      });

    it('a revoked token in a batch is refused before it writes anything; the others go on',
      async () => {
        const { replies, rHolds, rKeys, rToken, eventId } = await revokedFirst(true);
        expect(replies.map((r) => [r.status, r.code])).toEqual(
          [[401, 'unauthorized'], [201, undefined]]);
        // No hold, no claim and no Idempotency-Key record for the revoked token.
        expect([rHolds, rKeys]).toEqual([0, 0]);
        expect(await auditBooking(db, eventId)).toEqual([]);
        // The node learned the version from the batch: the next request is refused by the
        // auth hook, with neither a version read nor a batch.
        const original = db.query;
        const query = db.query.bind(db);
        let statements = 0;
        db.query = async (sql, params) => {
          if (/hold_batch|FROM customers/.test(sql)) statements += 1;
          return await query(sql, params);
        };
        try {
          const again = await fetch(`${bases.get('guarded') as string}/api/v1/events/${
            eventId}/holds`, { method: 'POST', body: JSON.stringify({ seats: ['A-2-4'] }),
            headers: { authorization: `Bearer ${rToken}`, 'content-type': 'application/json' } });
          expect(again.status).toBe(401);
        } finally {
          db.query = original;
        }
        expect(statements).toBe(0);
      });

    it('a revoked token refused before any batch (unknown seat) is told it is revoked',
      async () => {
        const event = await buildEvent(ctx);
        const [r] = await buildCustomers(ctx, 1);
        await db.query(
          'UPDATE customers SET token_version = token_version + 1 WHERE customer_id = $1',
          [r?.customerId]);
        const response = await fetch(`${bases.get('guarded') as string}/api/v1/events/${
          event.eventId}/holds`, { method: 'POST', body: JSON.stringify({ seats: ['Z-9-9'] }),
          headers: { authorization: `Bearer ${r?.token ?? ''}`,
            'content-type': 'application/json', 'idempotency-key': 'bad-seat' } });
        expect(response.status).toBe(401);
        const { rows } = await db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM idempotency_keys WHERE customer_id = $1',
          [r?.customerId]);
        expect(rows[0]?.n).toBe(0);
      });
  });
}
