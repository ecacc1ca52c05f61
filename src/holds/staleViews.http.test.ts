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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import type { Db } from '../storage/index.js';
import { auditBooking } from '../testing/audit.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import { bearer, buildCustomers, buildEvent, buildVenue } from '../testing/factories.js';
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

      async function hold(
        on: Node, eventId: string, token: string, quantity = 2,
      ): Promise<Reply> {
        const response = await on.app.inject({
          method: 'POST', url: `/api/v1/events/${eventId}/holds`, headers: bearer(token),
          payload: { zone: 'seats', quantity },
        });
        // The hold's own `status` ('held') gives way to the HTTP status.
        return { ...(response.json() as Omit<Reply, 'status'>), status: response.statusCode };
      }

      const tickets = (reply: Reply): number[] =>
        (reply.items ?? []).map((item) => item.ticketNo).sort((a, b) => a - b);

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
