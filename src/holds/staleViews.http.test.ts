/**
 * Best available across nodes whose views of the zone are stale (inventory/zoneView.ts):
 * several apps over one database, each with its own views, which never refresh by time
 * here (`seams.zoneViews.refreshMs: Infinity`), so another node's holds reach a view only
 * when the batch refuses a pick naming them, or when the view cannot find N seats and is
 * read again. The batch decides on committed state: a stale view may cost a re-plan, never
 * a double sale, and "not enough seats" comes only from committed state.
 *
 * The control shows the staleness is real: the same sequence on apps with the batch's
 * ticket check removed (`unguarded: 'tickets'`) sells the seats the stale view offered a
 * second time, and guarded, the batch names exactly those seats as taken (the apps'
 * `seams.zoneViews.refused`). It is sequential, so it runs on both backends.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import { createMemoryCoordinator } from '../coord/memory.js';
import { createRedisCoordinator, type Coordinator } from '../coord/index.js';
import type { App } from '../http/types.js';
import { startBookingWorkers } from '../orders/workers.js';
import { feedChannel, feedFollower, liveFeedSink } from '../outbox/feed.js';
import { OutboxRelay } from '../outbox/relay.js';
import type { Db } from '../storage/index.js';
import { auditBooking } from '../testing/audit.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp, buildTestContext } from '../testing/context.js';
import { bearer, buildCustomers, buildEvent, buildVenue } from '../testing/factories.js';
import { deleteRedisPrefix, serviceAvailable, testRedisUrl } from '../testing/services.js';
import { releaseHold } from './holds.js';

const backends = await testBackends();

interface Reply {
  status: number;
  code?: string;
  holdId?: string;
  available?: number;
  contended?: boolean;
  items?: { ticketNo: number; seatId: string }[];
}

interface Node {
  app: App;
  ctx: AppContext;
  /** Tickets the batch refused to this node's picks, per event. */
  refused: Map<string, number[]>;
}

/** Best available for `quantity` seats on `on`, with the HTTP status as `status`. */
async function hold(on: Node, eventId: string, token: string, quantity = 2): Promise<Reply> {
  const response = await on.app.inject({
    method: 'POST', url: `/api/v1/events/${eventId}/holds`, headers: bearer(token),
    payload: { zone: 'seats', quantity },
  });
  // The hold's own `status` ('held') gives way to the HTTP status.
  return { ...(response.json() as Omit<Reply, 'status'>), status: response.statusCode };
}

/** The tickets a hold got, in order. */
const tickets = (reply: Reply): number[] =>
  (reply.items ?? []).map((item) => item.ticketNo).sort((a, b) => a - b);

for (const backend of backends) {
  describe.skipIf(!backend.available)(`best available from stale views on ${backend.name}`,
    () => {
      let db: Db;
      const guarded: Node[] = [];
      const unguarded: Node[] = [];

      async function node(options: { unguarded?: 'tickets' }): Promise<Node> {
        const refused = new Map<string, number[]>();
        const { app, ctx } = await buildTestApp(db, {
          ...options,
          seams: {
            zoneViews: {
              refreshMs: Infinity,
              refused: (eventId, _zone, tickets) => {
                refused.set(eventId, [...(refused.get(eventId) ?? []), ...tickets]);
              },
            },
          },
        });
        return { app, ctx, refused };
      }

      beforeAll(async () => {
        db = await backend.open({ poolMax: 20 });
        for (let i = 0; i < 3; i++) guarded.push(await node({}));
        for (let i = 0; i < 2; i++) unguarded.push(await node({ unguarded: 'tickets' }));
      });
      afterAll(async () => {
        for (const { app } of [...guarded, ...unguarded]) await app.close();
        await db?.close();
      });

      const ctxOf = (): AppContext => (guarded[0] as Node).ctx;

      /**
       * Node A holds (its view is read now), node B holds (its view, read after A's hold,
       * knows it), then A holds again from a view that does not know B's hold.
       */
      async function staleSequence(a: Node, b: Node): Promise<{
        eventId: string; first: Reply; rival: Reply; stale: Reply;
      }> {
        const event = await buildEvent(ctxOf());
        const fans = await buildCustomers(ctxOf(), 3);
        const token = (i: number): string => (fans[i] as { token: string }).token;
        const first = await hold(a, event.eventId, token(0));
        const rival = await hold(b, event.eventId, token(1));
        const stale = await hold(a, event.eventId, token(2));
        return { eventId: event.eventId, first, rival, stale };
      }

      it('control: without the batch\'s check, a stale view sells a held seat again',
        async () => {
          const [a, b] = unguarded as [Node, Node];
          const { eventId, rival, stale } = await staleSequence(a, b);
          expect([rival.status, stale.status]).toEqual([201, 201]);
          // The stale view offered the rival's seats, and nothing stopped the claim.
          expect(tickets(stale)).toEqual(tickets(rival));
          expect(await auditBooking(db, eventId)).toContainEqual(
            expect.stringContaining('ticket in two live holds'));
        });

      it('a stale pick is refused by the batch, which names the seats, and re-planned',
        async () => {
          const [a, b] = guarded as [Node, Node];
          const { eventId, first, rival, stale } = await staleSequence(a, b);
          expect([first.status, rival.status, stale.status]).toEqual([201, 201, 201]);
          // A's view offered the rival's seats (the control's pick); the batch refused
          // exactly those, and A re-planned around them.
          expect(a.refused.get(eventId)?.sort((x, y) => x - y)).toEqual(tickets(rival));
          expect(tickets(stale).filter((no) => tickets(rival).includes(no))).toEqual([]);
          expect(tickets(stale).filter((no) => tickets(first).includes(no))).toEqual([]);
          expect(await auditBooking(db, eventId)).toEqual([]);
        });

      it('three nodes with stale views sell 50 seats to 90 racers: each seat once, the'
        + ' refusals true', async () => {
        const venue = await buildVenue(ctxOf(), { rows: 5, seatsPerRow: 10, standing: 10 });
        const event = await buildEvent(ctxOf(), { venue });
        const fans = await buildCustomers(ctxOf(), 93);
        // Each node reads its view with a first hold, one after another; from then on no
        // view hears of another node's holds except through the batch's refusals.
        const firsts = [];
        for (const [i, on] of guarded.entries()) {
          firsts.push(await hold(on, event.eventId, (fans[i] as { token: string }).token));
        }
        expect(firsts.map((r) => r.status)).toEqual([201, 201, 201]);
        const racers = fans.slice(3).map(async (fan, i) => {
          const on = guarded[i % guarded.length] as Node;
          for (let attempt = 0; ; attempt++) {
            const reply = await hold(on, event.eventId, fan.token);
            // A retryable refusal (seats free but being claimed): retry as a client would.
            if (reply.status !== 409 || reply.contended !== true || attempt >= 20) return reply;
          }
        });
        const replies = [...firsts, ...await Promise.all(racers)];
        expect(replies.filter((r) => r.status === 201)).toHaveLength(25);
        const refusals = replies.filter((r) => r.status !== 201);
        expect(refusals, JSON.stringify(refusals.slice(0, 3))).toHaveLength(68);
        // "Not enough" only when there is not enough, by committed state.
        for (const reply of refusals) {
          expect(reply).toMatchObject({ status: 409, code: 'insufficient_inventory' });
          expect(reply.contended).not.toBe(true);
          expect(reply.available).toBeLessThan(2);
        }
        const sold = replies.flatMap(tickets);
        expect(new Set(sold).size).toBe(50);
        expect(await auditBooking(db, event.eventId)).toEqual([]);
      });

      it('a stale view that shows the zone full still sells released seats', async () => {
        const [a, b] = guarded as [Node, Node];
        const venue = await buildVenue(ctxOf(), { rows: 1, seatsPerRow: 6, standing: 10 });
        const event = await buildEvent(ctxOf(), { venue });
        const fans = await buildCustomers(ctxOf(), 4);
        const token = (i: number): string => (fans[i] as { token: string }).token;
        // B reads its view before the zone sells out on A; A's view sees it sell out.
        const early = await hold(b, event.eventId, token(0));
        const rest = [await hold(a, event.eventId, token(1)),
          await hold(a, event.eventId, token(2))];
        expect([early, ...rest].map((r) => r.status)).toEqual([201, 201, 201]);
        const full = await hold(a, event.eventId, token(3));
        expect(full).toMatchObject({ status: 409, code: 'insufficient_inventory', available: 0 });
        expect(full.contended).not.toBe(true);
        // B releases its hold: A's view still shows the zone full, but before saying so it
        // reads committed state, and sells the released seats.
        await releaseHold(db, (fans[0] as { customerId: string }).customerId,
          early.holdId as string);
        const released = await hold(a, event.eventId, token(3));
        expect(released.status).toBe(201);
        expect(tickets(released)).toEqual(tickets(early));
        expect(await auditBooking(db, event.eventId)).toEqual([]);
      });

      it('a stale view that shows the zone full still sells expired holds\' seats',
        async () => {
          const [a] = guarded as [Node];
          const venue = await buildVenue(ctxOf(), { rows: 1, seatsPerRow: 6, standing: 10 });
          const event = await buildEvent(ctxOf(), { venue, holdSeconds: 1 });
          const fans = await buildCustomers(ctxOf(), 4);
          const token = (i: number): string => (fans[i] as { token: string }).token;
          for (let i = 0; i < 3; i++) {
            expect((await hold(a, event.eventId, token(i))).status).toBe(201);
          }
          // The holds lapse by the database clock (nothing sweeps them, no feed tells the
          // view): the seats are free, and A's view still shows them taken.
          const deadline = performance.now() + 20_000;
          for (;;) {
            const { rows } = await db.query<{ ok: boolean }>(
              `SELECT bool_and(hold_expires_at <= now()) AS ok FROM tickets
                WHERE event_id = $1 AND zone_key = 'seats'`, [event.eventId]);
            if (rows[0]?.ok === true) break;
            if (performance.now() > deadline) throw new Error('the holds did not expire');
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
          expect((await hold(a, event.eventId, token(3), 6)).status).toBe(201);
          expect(await auditBooking(db, event.eventId)).toEqual([]);
        });
    });
}

/**
 * The same views kept current by the live feed (outbox relay → coordination pub/sub →
 * the node's views): a view that never re-reads by time still learns another node's hold,
 * sale, release and expiry, and picks without a refusal and without a read. The control
 * is a node whose views follow no feed (`seams.zoneViews.unfed`): the same sequence costs
 * it a refused pick (hold, sale) or a read (expiry). A gap in the feed's versions makes a
 * fed view read the zone again. Both backends, in-process and Redis coordination.
 */
const feedRedisUp = await serviceAvailable('Redis', testRedisUrl);
const feedPrefix = `test:feedviews:${randomUUID().slice(0, 8)}:`;
afterAll(async () => {
  if (feedRedisUp) await deleteRedisPrefix(feedPrefix);
});

const feedSetups = backends.flatMap((backend) => (['memory', 'redis'] as const).map((kind) => ({
  backend, kind, enabled: backend.available && (kind === 'memory' || feedRedisUp),
})));

for (const { backend, kind, enabled } of feedSetups) {
  describe.skipIf(!enabled)(`best available from fed views on ${backend.name}, ${kind}`, () => {
    let db: Db;
    let shared: Coordinator | undefined;
    const coords: Coordinator[] = [];
    const apps: App[] = [];
    let worker: { relay: OutboxRelay; booking: { stop(): Promise<void> } } | undefined;

    interface FedNode extends Node {
      /** Reads of a zone's view (the first in full, later ones unsold), per event. */
      reads: Map<string, number>;
    }
    let fed: FedNode;
    let unfed: FedNode;
    let other: FedNode;

    const env = { OUTBOX_RELAY_POLL_MS: '50', OUTBOX_LEADER_TTL_MS: '1000',
      HOLD_SWEEP_MS: '100' };

    function coordinator(name: string): Coordinator {
      if (kind === 'memory') return (shared ??= createMemoryCoordinator({}));
      const coord = createRedisCoordinator({ url: testRedisUrl, prefix: feedPrefix,
        name: `test-feedviews-${name}`, logger: { warn: () => undefined } });
      coords.push(coord);
      return coord;
    }

    async function fedNode(name: string, seam: { unfed?: boolean }): Promise<FedNode> {
      const refused = new Map<string, number[]>();
      const reads = new Map<string, number>();
      const { app, ctx } = await buildTestApp(db, {
        coord: coordinator(name), env,
        seams: { zoneViews: {
          refreshMs: Infinity, ...seam,
          refused: (eventId, _zone, tickets) => {
            refused.set(eventId, [...(refused.get(eventId) ?? []), ...tickets]);
          },
          read: (eventId) => reads.set(eventId, (reads.get(eventId) ?? 0) + 1),
        } },
      });
      apps.push(app);
      return { app, ctx, refused, reads };
    }

    beforeAll(async () => {
      db = await backend.open({ poolMax: 20 });
      fed = await fedNode('fed', {});
      unfed = await fedNode('unfed', { unfed: true });
      other = await fedNode('other', {});
      const ctx = buildTestContext(db, { coord: coordinator('worker'), env });
      const relay = new OutboxRelay(ctx, { sinks: [liveFeedSink(ctx.coord)],
        holderId: `relay-feedviews-${kind}` });
      await relay.start();
      worker = { relay, booking: startBookingWorkers(ctx) };
    });
    afterAll(async () => {
      await worker?.relay.stop();
      await worker?.booking.stop();
      for (const app of apps) await app.close();
      for (const coord of coords) await coord.close().catch(() => undefined);
      await db?.close();
    });

    /**
     * Follows the event's feed on `on`'s coordinator, as its views do; `caughtUp` waits
     * until every committed change of the event was published and reached that node.
     */
    async function watch(on: Node, eventId: string): Promise<{
      caughtUp(): Promise<void>; stop(): Promise<void>;
    }> {
      let seen = 0;
      const stop = await feedFollower(on.ctx.coord, on.ctx.logger).follow(eventId, (batch) => {
        for (const row of batch.rows) seen = Math.max(seen, row.version);
      });
      const caughtUp = async (): Promise<void> => {
        const deadline = performance.now() + 20_000;
        for (;;) {
          const { rows } = await db.query<{ pending: number; version: string | null }>(
            `SELECT (SELECT count(*)::int FROM outbox_events WHERE event_id = $1
                       AND (version IS NULL OR published_at IS NULL)) AS pending,
                    (SELECT version FROM event_feed WHERE event_id = $1) AS version`,
            [eventId]);
          const row = rows[0];
          if (row?.pending === 0 && seen >= Number(row.version ?? 0)) return;
          if (performance.now() > deadline) throw new Error('the feed did not catch up');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      };
      return { caughtUp, stop };
    }

    /** X holds, the other node sells two seats and holds the last two, then releases them. */
    async function holdSellRelease(on: FedNode): Promise<{
      eventId: string; sold: Reply; kept: Reply; last: Reply;
    }> {
      const venue = await buildVenue(on.ctx, { rows: 1, seatsPerRow: 6, standing: 10 });
      const event = await buildEvent(on.ctx, { venue });
      const fans = await buildCustomers(on.ctx, 4);
      const token = (i: number): string => (fans[i] as { token: string }).token;
      const feed = await watch(on, event.eventId);
      try {
        expect((await hold(on, event.eventId, token(0), 2)).status).toBe(201);
        const sold = await hold(other, event.eventId, token(1), 2);
        const order = await other.app.inject({
          method: 'POST', url: `/api/v1/holds/${sold.holdId as string}/checkout`,
          headers: { ...bearer(token(1)), 'idempotency-key': `sell-${event.eventId}` },
          payload: { paymentMethod: 'sim_ok' },
        });
        expect(order.json()).toMatchObject({ status: 'confirmed' });
        const kept = await hold(other, event.eventId, token(2), 2);
        expect([sold.status, kept.status]).toEqual([201, 201]);
        const released = await other.app.inject({ method: 'DELETE',
          url: `/api/v1/holds/${kept.holdId as string}`, headers: bearer(token(2)) });
        expect(released.statusCode).toBe(204);
        await feed.caughtUp();
        const last = await hold(on, event.eventId, token(3), 2);
        return { eventId: event.eventId, sold, kept, last };
      } finally {
        await feed.stop();
      }
    }

    it('control: a view on no feed offers sold seats, and the batch refuses them',
      async () => {
        const { eventId, sold, kept, last } = await holdSellRelease(unfed);
        expect(last.status).toBe(201);
        expect(tickets(last)).toEqual(tickets(kept));
        expect(unfed.refused.get(eventId)?.sort((a, b) => a - b)).toEqual(tickets(sold));
        expect(await auditBooking(db, eventId)).toEqual([]);
      });

    it('a fed view learns the hold, sale and release: no refusal, one read', async () => {
      const { eventId, kept, last } = await holdSellRelease(fed);
      expect(last.status).toBe(201);
      expect(tickets(last)).toEqual(tickets(kept));
      expect(fed.refused.get(eventId)).toBeUndefined();
      expect(fed.reads.get(eventId)).toBe(1);
      expect(await auditBooking(db, eventId)).toEqual([]);
    });

    /** X and the other node fill the zone with one-second holds; the sweeper ends them. */
    async function lapse(on: FedNode): Promise<{ eventId: string; last: Reply }> {
      const venue = await buildVenue(on.ctx, { rows: 1, seatsPerRow: 4, standing: 10 });
      const event = await buildEvent(on.ctx, { venue, holdSeconds: 1 });
      const fans = await buildCustomers(on.ctx, 3);
      const token = (i: number): string => (fans[i] as { token: string }).token;
      const feed = await watch(on, event.eventId);
      try {
        expect((await hold(on, event.eventId, token(0), 2)).status).toBe(201);
        expect((await hold(other, event.eventId, token(1), 2)).status).toBe(201);
        const deadline = performance.now() + 20_000;
        for (;;) {
          const { rows } = await db.query<{ held: number }>(
            `SELECT count(*)::int AS held FROM holds WHERE event_id = $1 AND state = 'held'`,
            [event.eventId]);
          if (rows[0]?.held === 0) break;
          if (performance.now() > deadline) throw new Error('the holds were not swept');
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        await feed.caughtUp();
        return { eventId: event.eventId, last: await hold(on, event.eventId, token(2), 4) };
      } finally {
        await feed.stop();
      }
    }

    it('control: a view on no feed reads the zone again to find expired holds\' seats',
      async () => {
        const { eventId, last } = await lapse(unfed);
        expect(last.status).toBe(201);
        expect(unfed.reads.get(eventId)).toBe(2);
      });

    it('a fed view learns expired holds from the sweeper\'s rows: no read', async () => {
      const { eventId, last } = await lapse(fed);
      expect(last.status).toBe(201);
      expect(fed.reads.get(eventId)).toBe(1);
      expect(await auditBooking(db, eventId)).toEqual([]);
    });

    it('a gap in the feed\'s versions makes a fed view read the zone again', async () => {
      const event = await buildEvent(fed.ctx);
      const fans = await buildCustomers(fed.ctx, 2);
      expect((await hold(fed, event.eventId, (fans[0] as { token: string }).token, 2)).status)
        .toBe(201);
      expect(fed.reads.get(event.eventId)).toBe(1);
      // A batch far ahead of the view's version: the ones between were lost.
      const { coord } = fed.ctx;
      await coord.publish(feedChannel(coord, event.eventId), JSON.stringify({
        eventId: event.eventId, rows: [{ version: 1_000, effect: 'none', tickets: [] }],
      }));
      const deadline = performance.now() + 10_000;
      while ((fed.reads.get(event.eventId) ?? 0) < 2) {
        if (performance.now() > deadline) throw new Error('no read after the gap');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // Read again, the view sells on.
      expect((await hold(fed, event.eventId, (fans[1] as { token: string }).token, 2)).status)
        .toBe(201);
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });
  });
}
