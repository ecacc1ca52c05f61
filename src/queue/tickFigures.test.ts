/**
 * The tick's kept figures (migration 047, queue_tick_figures_kept) against the full recount
 * (queue_tick_figures, 045) after any mix of holds, holds lapsing as time passes (lazily:
 * the sweeper may or may not have been by), payments under way, sales, cancellations,
 * releases, admission ticks, claims, slots freed and leaves, on both backends. A control
 * shows the recount catches a path that forgets a kept figure; another test shows the
 * tick's compaction merges the writers' rows without changing a sum.
 * A failure prints the seed and the shrunk plan; FC_SEED=<seed> replays it.
 */
import { randomUUID } from 'node:crypto';

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadEvent, type EventRecord } from '../catalog/events.js';
import type { AppContext } from '../context.js';
import { DomainError } from '../core/errors.js';
import { ManualClock } from '../core/clock.js';
import { createHold, releaseHold } from '../holds/holds.js';
import { sweepExpiredHolds } from '../holds/sweeper.js';
import type { Db, Queryable } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { buildEvent, buildVenue, insertCustomerRows } from '../testing/factories.js';
import { withoutKeptCounts } from '../testing/queueCounts.js';
import { claimAdmission, releaseShopperSlot, tickLine } from './admission.js';
import { leaveLine } from './leave.js';
import { joinLine } from './line.js';

const backends = await testBackends();
const seed = Number(process.env.FC_SEED ?? Math.floor(Math.random() * 2 ** 31));

type Step =
  | { kind: 'join'; count: number }
  | { kind: 'tick'; advanceMs: number; idleSeconds: number }
  | { kind: 'hold'; pick: number; quantity: number }
  | { kind: 'age'; seconds: number }
  | { kind: 'sweep' }
  | { kind: 'claim' | 'leave' | 'freeSlot' | 'release' | 'pay' | 'offer' | 'buy' | 'cancel';
      pick: number };

const pick = fc.nat({ max: 1_000 });
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 5 }).map((count) => ({
    kind: 'join', count }) as const) },
  { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 500, max: 30_000 }),
    fc.constantFrom(2, 3_600)).map(([advanceMs, idleSeconds]) => ({
    kind: 'tick', advanceMs, idleSeconds }) as const) },
  { weight: 4, arbitrary: fc.tuple(pick, fc.integer({ min: 1, max: 4 })).map(([p, q]) => ({
    kind: 'hold', pick: p, quantity: q }) as const) },
  // Time passing for holds: every time of the event's holds moves back, as if the
  // database clock had moved on (holds lapse lazily, tickets keep their hold).
  { weight: 2, arbitrary: fc.constantFrom(1, 4, 30, 200, 700).map((seconds) => ({
    kind: 'age', seconds }) as const) },
  { weight: 1, arbitrary: fc.constant({ kind: 'sweep' } as const) },
  ...(['claim', 'leave', 'freeSlot', 'release', 'pay', 'offer', 'buy', 'cancel'] as const).map(
    (kind) => ({ weight: 2, arbitrary: pick.map((p) => ({ kind, pick: p }) as const) })),
);

/**
 * A plan that reaches every path (run first, as an example): holds, a payment under way, a
 * waitlist offer (one hold both offered and being paid for), a sale, a cancellation, a
 * release, holds lapsing unswept and then swept, slots freed.
 */
const tour: Step[] = [
  { kind: 'join', count: 4 }, { kind: 'tick', advanceMs: 1_000, idleSeconds: 3_600 },
  { kind: 'hold', pick: 0, quantity: 2 }, { kind: 'hold', pick: 1, quantity: 1 },
  { kind: 'hold', pick: 2, quantity: 1 }, { kind: 'pay', pick: 0 }, { kind: 'buy', pick: 0 },
  { kind: 'cancel', pick: 0 }, { kind: 'release', pick: 0 }, { kind: 'age', seconds: 4 },
  { kind: 'hold', pick: 3, quantity: 2 }, { kind: 'offer', pick: 1 }, { kind: 'pay', pick: 1 },
  { kind: 'offer', pick: 0 }, { kind: 'age', seconds: 700 },
  { kind: 'tick', advanceMs: 3_000, idleSeconds: 2 },
  { kind: 'sweep' }, { kind: 'freeSlot', pick: 0 }, { kind: 'leave', pick: 1 },
];

/** Refusals a step may meet (limits, hold lapsed, not admitted): outcomes, not failures. */
function expected(error: unknown): void {
  if (!(error instanceof DomainError)) throw error;
}

interface Figures {
  held: number; available: number; kept: number; holds: number; tickets: number | null;
  waitlist: number; seekers: number; left_lately: number; live: number; last_minute: number;
}

async function figures(db: Queryable, fn: string, eventId: string, nowMs: number,
  seekerSeconds: number): Promise<Figures> {
  const { rows } = await db.query<Figures>(
    `SELECT * FROM ${fn}($1, $2, $3)`, [eventId, new Date(nowMs), seekerSeconds]);
  return rows[0] as Figures;
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`tick figures kept on ${backend.name}`, () => {
    let db: Db;
    let clock: ManualClock;
    let ctx: AppContext;
    /** Sales and cancellations the plans made (the coverage check below). */
    let sales = 0;
    let cancels = 0;

    beforeAll(async () => {
      db = await backend.open();
      clock = new ManualClock(Date.now());
      ctx = buildTestContext(db, { clock });
    });
    afterAll(async () => db?.close());

    async function queuedEvent(standing: number): Promise<EventRecord> {
      const details = await buildEvent(ctx, {
        venue: await buildVenue(ctx, { standing }),
        // On sale by the line's clock and by the database's (holds are decided by now()).
        onSaleAt: new Date(Math.min(clock.nowMs(), Date.now()) - 1_000).toISOString(),
        queue: { enabled: true, admitPerMinute: 600, maxActiveShoppers: 6, passSeconds: 60 },
      });
      return await loadEvent(db, details.eventId);
    }

    /** The kept figures equal the recount, for two seeker windows. */
    async function expectFiguresExact(event: EventRecord): Promise<void> {
      for (const seekerSeconds of [5, 20]) {
        const kept = await figures(db, 'queue_tick_figures_kept', event.eventId,
          clock.nowMs(), seekerSeconds);
        const recount = await figures(db, 'queue_tick_figures', event.eventId,
          clock.nowMs(), seekerSeconds);
        expect(kept).toEqual(recount);
      }
    }

    async function heldHolds(event: EventRecord): Promise<{ hold_id: string;
      customer_id: string }[]> {
      const { rows } = await db.query<{ hold_id: string; customer_id: string }>(
        `SELECT hold_id, customer_id FROM holds WHERE event_id = $1 AND state = 'held'
          ORDER BY created_at, hold_id`, [event.eventId]);
      return rows;
    }

    async function admitted(event: EventRecord): Promise<string[]> {
      const { rows } = await db.query<{ customer_id: string }>(
        'SELECT customer_id FROM queue_admissions WHERE event_id = $1 ORDER BY number',
        [event.eventId]);
      return rows.map((r) => r.customer_id);
    }

    /** A sale as settle does it: the hold's tickets sold, the hold purchased. */
    async function sell(q: Db, event: EventRecord, hold: { hold_id: string;
      customer_id: string }): Promise<void> {
      await q.tx(async (tx) => {
        const order = randomUUID();
        await tx.query(
          `UPDATE orders SET status = 'confirmed', confirmed_at = now()
            WHERE hold_id = $1 AND status = 'pending_payment'`, [hold.hold_id]);
        await tx.query(
          `UPDATE tickets SET order_id = coalesce((SELECT order_id FROM orders
              WHERE hold_id = $2 AND status = 'confirmed'), $3::uuid),
                  hold_id = NULL, hold_expires_at = NULL
            WHERE event_id = $1 AND hold_id = $2 AND hold_expires_at > now()
              AND order_id IS NULL`, [event.eventId, hold.hold_id, order]);
        await tx.query(
          "UPDATE holds SET state = 'purchased', ended_at = now() WHERE hold_id = $1",
          [hold.hold_id]);
      });
    }

    async function run(event: EventRecord, fans: string[], s: Step): Promise<void> {
      const fan = (p: number): string | undefined => fans[p % Math.max(1, fans.length)];
      switch (s.kind) {
        case 'join': {
          const ids = await insertCustomerRows(db, s.count);
          fans.push(...ids);
          await joinLine(db, event, ids, clock.nowMs());
          return;
        }
        case 'tick':
          clock.advance(s.advanceMs);
          await tickLine(db, event, {
            nowMs: clock.nowMs(), token: 1, claimGraceSeconds: 5, idleSeconds: s.idleSeconds,
          });
          return;
        case 'claim':
        case 'freeSlot':
        case 'leave': {
          const list = await admitted(event);
          const who = s.kind === 'leave' ? fan(s.pick) : list[s.pick % Math.max(1, list.length)];
          if (who === undefined) return;
          if (s.kind === 'claim') await claimAdmission(db, event.eventId, who, clock.nowMs());
          if (s.kind === 'freeSlot') await releaseShopperSlot(db, event.eventId, who, clock.nowMs());
          if (s.kind === 'leave') {
            await leaveLine(db, event.eventId, who, 'left', clock.nowMs()).catch(expected);
          }
          return;
        }
        case 'hold': {
          const list = await admitted(event);
          const who = list[s.pick % Math.max(1, list.length)] ?? fan(s.pick);
          if (who === undefined) return;
          await claimAdmission(db, event.eventId, who, clock.nowMs()).catch(expected);
          await createHold(db, event, who, { zone: 'floor', quantity: s.quantity })
            .catch(expected);
          return;
        }
        case 'age':
          await db.tx(async (tx) => {
            await tx.query(
              `UPDATE holds SET expires_at = expires_at - $2 * interval '1 second',
                      claim_expires_at = claim_expires_at - $2 * interval '1 second',
                      created_at = created_at - $2 * interval '1 second',
                      ended_at = ended_at - $2 * interval '1 second'
                WHERE event_id = $1`, [event.eventId, s.seconds]);
            await tx.query(
              `UPDATE tickets SET hold_expires_at = hold_expires_at - $2 * interval '1 second'
                WHERE event_id = $1 AND hold_id IS NOT NULL`, [event.eventId, s.seconds]);
          });
          return;
        case 'sweep':
          await sweepExpiredHolds(db);
          return;
        case 'release':
        case 'pay':
        case 'offer':
        case 'buy': {
          const holds = await heldHolds(event);
          const hold = holds[s.pick % Math.max(1, holds.length)];
          if (hold === undefined) return;
          if (s.kind === 'release') {
            await releaseHold(db, hold.customer_id, hold.hold_id).catch(expected);
          } else if (s.kind === 'offer') {
            // The hold a waitlist hand-over makes for the fan it offers tickets to.
            await db.query(
              `INSERT INTO waitlist_offers (hold_id, event_id, customer_id, entry_seq, reason)
               SELECT hold_id, event_id, customer_id, 1, 'released' FROM holds
                WHERE hold_id = $1 ON CONFLICT DO NOTHING`, [hold.hold_id]);
          } else if (s.kind === 'buy') {
            await sell(db, event, hold);
            sales++;
          } else {
            // A payment under way (as checkout_begin): an order, and the claim moved on past
            // the hold's own expiry (a payment window longer than the time left).
            await db.tx(async (tx) => {
              const { rowCount } = await tx.query(
                `INSERT INTO orders (order_id, event_id, customer_id, hold_id, status,
                                     quantity, total_cents, currency)
                 SELECT gen_random_uuid(), event_id, customer_id, hold_id, 'pending_payment',
                        quantity, total_cents, currency FROM holds
                  WHERE hold_id = $1 AND state = 'held' AND expires_at > now()
                    AND NOT EXISTS (SELECT 1 FROM orders WHERE hold_id = $1)`,
                [hold.hold_id]);
              if (rowCount !== 1) return;
              await tx.query(
                `UPDATE holds SET claim_expires_at = greatest(claim_expires_at,
                                                              now() + interval '900 seconds')
                  WHERE hold_id = $1`, [hold.hold_id]);
              await tx.query(
                `UPDATE tickets SET hold_expires_at = (SELECT claim_expires_at FROM holds
                                                        WHERE hold_id = $1)
                  WHERE hold_id = $1 AND order_id IS NULL`, [hold.hold_id]);
            });
          }
          return;
        }
        case 'cancel': {
          // As cancel.ts does: the order's tickets go back to the pool.
          const { rows } = await db.query<{ order_id: string }>(
            `SELECT DISTINCT order_id FROM tickets WHERE event_id = $1
                AND order_id IS NOT NULL ORDER BY order_id`, [event.eventId]);
          const order = rows[s.pick % Math.max(1, rows.length)];
          if (order === undefined) return;
          await db.tx(async (tx) => {
            await tx.query(
              "UPDATE orders SET status = 'cancelled', cancelled_at = now() WHERE order_id = $1",
              [order.order_id]);
            await tx.query(
              `UPDATE tickets SET order_id = NULL, hold_id = NULL, hold_expires_at = NULL
                WHERE event_id = $1 AND order_id = $2`, [event.eventId, order.order_id]);
          });
          cancels++;
          return;
        }
      }
    }

    it('equal the full recount after any mix of the writes and time', async () => {
      const numRuns = backend.name === 'pglite' ? 25 : 15;
      console.info(`[tick figures] ${backend.name}: seed ${seed}, ${numRuns} runs`);
      await fc.assert(fc.asyncProperty(
        fc.integer({ min: 4, max: 16 }), fc.array(step, { minLength: 5, maxLength: 40 }),
        async (standing, plan) => {
          const event = await queuedEvent(standing);
          const fans: string[] = [];
          await expectFiguresExact(event);
          for (const s of plan) {
            await run(event, fans, s);
            await expectFiguresExact(event);
          }
        },
      ), { numRuns, seed, verbose: 1, examples: [[8, tour]] });
      // The plans reached every figure (summed over all the runs' events).
      const { rows } = await db.query<Record<string, number>>(
        `SELECT (SELECT count(*) FROM orders)::int AS paid,
                (SELECT count(*) FROM holds WHERE state = 'expired')::int AS swept,
                (SELECT count(*) FROM waitlist_offers)::int AS offered,
                (SELECT count(*) FROM holds WHERE state = 'released')::int AS released,
                (SELECT count(*) FROM queue_admissions WHERE released_at IS NOT NULL)::int
                  AS freed`);
      for (const [name, total] of Object.entries({ ...rows[0], sales, cancels })) {
        expect(total, name).toBeGreaterThan(0);
      }
    }, 300_000);

    it('control: a sale whose kept count is skipped is caught by the recount', async () => {
      const event = await queuedEvent(6);
      const [fan] = await insertCustomerRows(db, 1);
      await joinLine(db, event, [fan as string], clock.nowMs());
      clock.advance(1_000);
      await tickLine(db, event, { nowMs: clock.nowMs(), token: 1, claimGraceSeconds: 5 });
      await claimAdmission(db, event.eventId, fan as string, clock.nowMs());
      const hold = await createHold(db, event, fan as string, { zone: 'floor', quantity: 2 });
      await expectFiguresExact(event);
      // The real rows change in a transaction that fires no triggers: sold is not kept.
      await sell(withoutKeptCounts(db), event, { hold_id: hold.holdId,
        customer_id: fan as string });
      const kept = await figures(db, 'queue_tick_figures_kept', event.eventId, clock.nowMs(), 5);
      const recount = await figures(db, 'queue_tick_figures', event.eventId, clock.nowMs(), 5);
      expect(kept).not.toEqual(recount);
      expect(kept.available - recount.available).toBe(2);
    });

    it('a tick merges the rows of writers that are gone and keeps every sum', async () => {
      const event = await queuedEvent(8);
      const fans = await insertCustomerRows(db, 3);
      await joinLine(db, event, fans, clock.nowMs());
      clock.advance(1_000);
      await tickLine(db, event, { nowMs: clock.nowMs(), token: 1, claimGraceSeconds: 5 });
      // Rows of a backend that is gone (no such pid) and, for the joins, a second long past;
      // the sizes net to zero with shard 0, so the figures stay exact.
      const gone = 2_000_000_000;
      const old = Math.floor(Date.now() / 1000) - 3_600;
      await db.query(
        `INSERT INTO queue_counts (event_id, shard, joined, admitted) VALUES ($1, $2, 5, 2)
         ON CONFLICT (event_id, shard) DO NOTHING`,
        [event.eventId, gone]);
      await db.query('INSERT INTO ticket_counts (event_id, shard, tickets) VALUES ($1, $2, 0)',
        [event.eventId, gone]);
      await db.query(
        `INSERT INTO hold_sizes (event_id, quantity, shard, holds)
         VALUES ($1, 3, $2, 4), ($1, 3, 0, -4)`, [event.eventId, gone]);
      await db.query(
        `INSERT INTO queue_join_seconds (event_id, second, shard, joined)
         VALUES ($1, $2, $3, 7), ($1, $2, $3 + 1, 2), ($1, $2, 0, 1)`,
        [event.eventId, old, gone]);
      const sums = async (): Promise<unknown> => (await db.query(
        `SELECT (SELECT sum(joined)::int FROM queue_counts WHERE event_id = $1) AS joined,
                (SELECT sum(admitted)::int FROM queue_counts WHERE event_id = $1) AS admitted,
                (SELECT sum(tickets - sold)::int FROM ticket_counts WHERE event_id = $1)
                  AS unsold,
                (SELECT sum(holds)::int FROM hold_sizes WHERE event_id = $1) AS holds,
                (SELECT sum(joined)::int FROM queue_join_seconds WHERE event_id = $1) AS j`,
        [event.eventId])).rows[0];
      const rows = async (): Promise<unknown> => (await db.query(
        `SELECT (SELECT count(*) FROM queue_counts WHERE event_id = $1 AND shard = $2)::int
                  AS counts,
                (SELECT count(*) FROM ticket_counts WHERE event_id = $1 AND shard = $2)::int
                  AS tickets,
                (SELECT count(*) FROM hold_sizes WHERE event_id = $1 AND shard = $2)::int
                  AS sizes,
                (SELECT count(*) FROM queue_join_seconds
                  WHERE event_id = $1 AND second = $3 AND shard <> 0)::int AS seconds`,
        [event.eventId, gone, old])).rows[0];
      await db.query(
        `UPDATE queue_counts SET joined = joined - 5, admitted = admitted - 2
          WHERE event_id = $1 AND shard = 0`,
        [event.eventId]);
      const before = await sums();
      expect(await rows()).toEqual({ counts: 1, tickets: 1, sizes: 1, seconds: 2 });
      clock.advance(1_000);
      await tickLine(db, event, { nowMs: clock.nowMs(), token: 1, claimGraceSeconds: 5 });
      expect(await rows()).toEqual({ counts: 0, tickets: 0, sizes: 0, seconds: 0 });
      expect(await sums()).toEqual(before);
      const { rows: merged } = await db.query<{ joined: number }>(
        `SELECT joined FROM queue_join_seconds WHERE event_id = $1 AND second = $2`,
        [event.eventId, old]);
      expect(merged).toEqual([{ joined: 10 }]);
      await expectFiguresExact(event);
    });
  });
}
