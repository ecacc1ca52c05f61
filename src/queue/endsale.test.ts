/**
 * The end of a sale, on both database backends: admission never outnumbers the tickets
 * left (a property over random sales), ghosts give their slots back (leaving, idling),
 * slots that free out of order skip nobody and admit nobody twice, fans are told the truth
 * about the tickets left, and the line closes when nothing is left to sell.
 */

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadEvent, type EventRecord } from '../catalog/events.js';
import type { QueueSettings } from '../catalog/schemas.js';
import { limits } from '../config/limits.js';
import type { AppContext } from '../context.js';
import { ManualClock } from '../core/clock.js';
import { DomainError } from '../core/errors.js';
import { createHold, releaseHold } from '../holds/holds.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { buildEvent, buildVenue, insertCustomerRows } from '../testing/factories.js';
import { claimAdmission, releaseShopperSlot, tickLine, type TickOutcome } from './admission.js';
import { joinWaitlist, listWaitlist } from '../waitlist/waitlist.js';
import { moveToWaitlist } from './handover.js';
import { leaveLine } from './leave.js';
import { joinLine } from './line.js';
import { WaitingRoom, waitingRoom } from './room.js';
import {
  afterFans, inventoryRoom, outlookFor, servableAhead, type Shape, type Supply,
} from './supply.js';

const backends = await testBackends();
const graceSeconds = 60;
const knobs = { heldReturnShare: 0.25, defaultTicketsPerShopper: 2, seekerSeconds: 5 };

describe('the inventory rule (pure)', () => {
  it('room = ⌈(available + ⌊share × returnable⌋) / tickets per shopper⌉ − seekers', () => {
    const supply: Supply = {
      available: 7, held: 20, mayReturn: 8, seekers: 1, ticketsPerShopper: 2,
    };
    // 7 + ⌊0.25 × 8⌋ = 9 tickets → 5 shoppers, one of whom is already looking.
    expect(inventoryRoom(supply, knobs)).toBe(4);
    expect(inventoryRoom({ ...supply, seekers: 9 }, knobs)).toBe(0);
    expect(inventoryRoom({ ...supply, available: 0, mayReturn: 0 }, knobs)).toBe(0);
  });

  it('fans who left lately hold back the room the carts make, never the room on sale now',
    () => {
      // Nothing on sale, 40 tickets in carts: the carts' share makes room for 5 shoppers.
      const carts: Supply = {
        available: 0, held: 40, mayReturn: 40, seekers: 0, ticketsPerShopper: 2,
      };
      expect(inventoryRoom(carts, knobs)).toBe(5);
      // Three came in on that bet and left with nothing: room for two more, not five.
      expect(inventoryRoom({ ...carts, leftLately: 3 }, knobs)).toBe(2);
      expect(inventoryRoom({ ...carts, leftLately: 9 }, knobs)).toBe(0);
      // Six tickets on sale make room for three shoppers whoever left before.
      expect(inventoryRoom({ ...carts, available: 6, leftLately: 9 }, knobs)).toBe(3);
      expect(inventoryRoom({ ...carts, available: 6, leftLately: 9, seekers: 1 }, knobs))
        .toBe(2);
    });

  it('tells a fan the truth: sold out, in carts, unlikely, or open', () => {
    const supply: Supply = {
      available: 4, held: 6, mayReturn: 6, seekers: 1, ticketsPerShopper: 2,
    };
    expect(outlookFor(supply, 1, true)).toBe('sold_out');
    expect(outlookFor({ ...supply, available: 0 }, 1, false)).toBe('in_carts');
    // One seeker ahead takes two of the four available: two left for the first in line.
    expect(outlookFor(supply, 1, false)).toBe('open');
    // The seeker and one fan ahead take the four available: the 2nd … 4th in line can only
    // hope for carts to come back (six tickets: three more fans), so no time is promised.
    expect(outlookFor(supply, 2, false)).toBe('in_carts');
    expect(outlookFor(supply, 4, false)).toBe('in_carts');
    // Four seekers-and-fans ahead at two each take all ten, carts included.
    expect(outlookFor(supply, 5, false)).toBe('unlikely');
  });
});

describe('the shape of what is left (pure)', () => {
  const empty = (cap: number): Shape => ({
    cap, runs: new Array<number>(cap - 1).fill(0), pool: 0,
    carts: new Array<number>(cap).fill(0), demand: new Array<number>(cap).fill(0), together: 0,
  });

  it('scattered single seats serve nobody who wants two together; counts would say open', () => {
    const singles: Shape = { ...empty(4), runs: [6, 0, 0], together: 1 };
    const supply: Supply = {
      available: 6, held: 0, mayReturn: 0, seekers: 0, ticketsPerShopper: 2, shape: singles,
    };
    expect(servableAhead(singles, 2)).toBe(0);
    expect(outlookFor(supply, 1, false)).toBe('unlikely');
    // The control: the same tickets as counts serve three fans of two.
    const { shape: _, ...counts } = supply;
    expect(outlookFor(counts, 1, false)).toBe('open');
    expect(outlookFor(counts, 3, false)).toBe('open');
  });

  it('pairs serve fans of two, one pair each; standing serves any group', () => {
    const pairs: Shape = { ...empty(4), runs: [0, 5, 0] };
    // Five pairs: fans with 0…4 fans ahead find one; the sixth does not.
    expect(servableAhead(pairs, 2)).toBe(5);
    const floor: Shape = { ...empty(4), pool: 10 };
    // Ten standing at four each (20 holds measured): two fans, not two and a half.
    const fours: Shape = { ...floor, demand: [0, 0, 0, 20] };
    expect(servableAhead(fours)).toBe(2);
    expect(afterFans(fours, [0, 0, 0, 1], 2).pool).toBeCloseTo(2);
  });

  it('counts carts as groups that may come back, and follows the measured demand', () => {
    // Singles only, but two carts of two may come back: two fans of two.
    const shape: Shape = { ...empty(4), runs: [3, 0, 0], carts: [0, 2, 0, 0] };
    expect(servableAhead(shape, 2)).toBe(2);
    // Only what comes back can serve them: no time is promised, but they are in with a chance.
    const supply: Supply = {
      available: 3, held: 4, mayReturn: 4, seekers: 0, ticketsPerShopper: 2, shape,
    };
    expect(outlookFor(supply, 1, false)).toBe('in_carts');
    expect(outlookFor(supply, 3, false)).toBe('unlikely');
    // Half the fans take one ticket: singles serve them, so more fans are still in with a
    // chance (a fan of the mix finds a fit at least half the time).
    const mixed: Shape = { ...shape, demand: [10, 10, 0, 0] };
    expect(servableAhead(mixed)).toBeGreaterThan(2);
  });

  it('with everyone taking one ticket, serves exactly the tickets left (any shape)', () => {
    fc.assert(fc.property(
      fc.array(fc.nat({ max: 20 }), { minLength: 5, maxLength: 5 }),
      fc.nat({ max: 50 }),
      fc.array(fc.nat({ max: 5 }), { minLength: 6, maxLength: 6 }),
      (runs, pool, carts) => {
        const shape: Shape = {
          cap: 6, runs, pool, carts, demand: [50, 0, 0, 0, 0, 0], together: 0,
        };
        const tickets = pool + runs.reduce((sum, n, i) => sum + n * (i + 1), 0) +
          carts.reduce((sum, n, i) => sum + n * (i + 1), 0);
        expect(servableAhead(shape)).toBe(tickets);
      },
    ), { numRuns: 200, seed: 13 });
  });

  it('serves no more fans than tickets allow, and none with only groups too small (property)',
    () => {
      fc.assert(fc.property(
        fc.array(fc.nat({ max: 10 }), { minLength: 5, maxLength: 5 }),
        fc.nat({ max: 30 }),
        fc.array(fc.nat({ max: 20 }), { minLength: 6, maxLength: 6 }),
        (runs, pool, demand) => {
          fc.pre(demand.reduce((a, b) => a + b, 0) >= 20);
          const shape: Shape = {
            cap: 6, runs, pool, carts: [0, 0, 0, 0, 0, 0], demand, together: 0,
          };
          const tickets = pool + runs.reduce((sum, n, i) => sum + n * (i + 1), 0);
          const smallest = demand.findIndex((n) => n > 0) + 1;
          const served = servableAhead(shape);
          // Fans are served while the next one more likely than not finds a fit.
          expect(served).toBeLessThanOrEqual(Math.floor(tickets / smallest) + 1);
          // Every run shorter than the smallest group wanted, no pool: nobody fits.
          const tooSmall = runs.map((n, i) => (i + 1 < smallest ? n : 0));
          expect(servableAhead({ ...shape, runs: tooSmall, pool: 0 })).toBe(0);
        },
      ), { numRuns: 300, seed: 13 });
    });
});

for (const backend of backends) {
  describe.skipIf(!backend.available)(`the end of the sale on ${backend.name}`, () => {
    let db: Db;
    let clock: ManualClock;
    let ctx: AppContext;

    beforeAll(async () => {
      db = await backend.open();
      clock = new ManualClock(Date.UTC(2030, 0, 1, 10));
      ctx = buildTestContext(db, {
        clock, env: { QUEUE_CLAIM_GRACE_SECONDS: String(graceSeconds) },
      });
    });
    afterAll(async () => db?.close());

    async function queuedEvent(
      queue: Partial<QueueSettings> = {}, standing = 10_000,
    ): Promise<EventRecord> {
      const details = await buildEvent(ctx, {
        venue: await buildVenue(ctx, { rows: 1, seatsPerRow: 2, standing }),
        // On sale by the manual clock (the tick) and by the database clock (the holds).
        onSaleAt: new Date(Math.min(clock.nowMs(), Date.now()) - 60_000).toISOString(),
        maxTicketsPerCustomer: 10,
        queue: { enabled: true, admitPerMinute: 60_000, maxActiveShoppers: 1_000, ...queue },
      });
      return await loadEvent(db, details.eventId);
    }

    /** Customers as bare rows (holds reference them; no password hashing needed). */
    async function customers(count: number): Promise<string[]> {
      return await insertCustomerRows(db, count);
    }

    async function join(event: EventRecord, ids: readonly string[]): Promise<void> {
      for (const id of ids) await joinLine(db, event, [id], clock.nowMs());
    }

    async function tick(event: EventRecord, idleSeconds = 3_600): Promise<TickOutcome> {
      clock.advance(1_000);
      const outcome = await tickLine(db, event, {
        nowMs: clock.nowMs(), token: 1, claimGraceSeconds: graceSeconds, idleSeconds,
        supply: knobs,
      });
      if (outcome.kind === 'ticked') await waitingRoom(ctx).publish(outcome.status);
      return outcome;
    }

    function admittedIn(outcome: TickOutcome): string[] {
      if (outcome.kind !== 'ticked') throw new Error(outcome.kind);
      return outcome.admitted.map((a) => a.customerId);
    }

    async function admissions(event: EventRecord): Promise<{ customer: string; n: number }[]> {
      const { rows } = await db.query<{ customer_id: string; number: number }>(
        'SELECT customer_id, number FROM queue_admissions WHERE event_id = $1 ORDER BY number',
        [event.eventId],
      );
      return rows.map((r) => ({ customer: r.customer_id, n: Number(r.number) }));
    }

    /** Claims a fan's pass and holds `quantity` floor tickets for them (as a hold would). */
    async function holdFor(event: EventRecord, fan: string, quantity: number): Promise<string> {
      await claimAdmission(db, event.eventId, fan, clock.nowMs());
      const hold = await createHold(db, event, fan, { zone: 'floor', quantity });
      return hold.holdId;
    }

    /** The waitlist's bucket counts (migration 037) against a recount of the entries. */
    async function expectCountsExact(event: EventRecord): Promise<void> {
      const { rows } = await db.query(
        `SELECT bucket, c.waiting AS kept, r.n AS counted
           FROM (SELECT bucket, waiting FROM waitlist_counts
                  WHERE event_id = $1 AND waiting <> 0) AS c
           FULL JOIN (SELECT waitlist_bucket(seq) AS bucket, count(*)::int AS n
                        FROM waitlist_entries WHERE event_id = $1 AND status = 'waiting'
                       GROUP BY 1) AS r USING (bucket)
          WHERE c.waiting IS DISTINCT FROM r.n`,
        [event.eventId],
      );
      expect(rows).toEqual([]);
    }

    /** The event's waitlist in offer order: customer, status and place. */
    async function waitlistOf(event: EventRecord): Promise<{ c: string; status: string }[]> {
      const { rows } = await db.query<{ customer_id: string; status: string }>(
        'SELECT customer_id, status FROM waitlist_entries WHERE event_id = $1 ORDER BY seq',
        [event.eventId],
      );
      return rows.map((row) => ({ c: row.customer_id, status: row.status }));
    }

    /** Ends a hold as a purchase: tickets sold, hold purchased, slot freed. */
    async function buy(event: EventRecord, fan: string, holdId: string): Promise<void> {
      await db.tx(async (tx) => {
        await tx.query(
          'UPDATE tickets SET order_id = gen_random_uuid() WHERE event_id = $1 AND hold_id = $2',
          [event.eventId, holdId],
        );
        await tx.query(
          "UPDATE holds SET state = 'purchased', ended_at = now() WHERE hold_id = $1",
          [holdId],
        );
        await releaseShopperSlot(tx, event.eventId, fan, clock.nowMs());
      });
    }

    /**
     * Counted independently of supply.ts, straight from the rows: tickets available and
     * held (with no payment under way), and live shoppers who hold nothing and were
     * admitted, tried a hold or ended one within the seeker window.
     */
    async function independentFigures(event: EventRecord): Promise<{
      available: number; returnable: number; seekers: number; perShopper: number;
    }> {
      const { rows } = await db.query<{
        available: number; returnable: number; seekers: number; holds: number; avg: number;
      }>(
        `SELECT
           (SELECT count(*) FROM tickets WHERE event_id = $1 AND order_id IS NULL
              AND (hold_id IS NULL OR hold_expires_at <= now()))::int AS available,
           (SELECT count(*) FROM tickets WHERE event_id = $1 AND order_id IS NULL
              AND hold_expires_at > now())::int AS returnable,
           (SELECT count(*) FROM queue_admissions a WHERE a.event_id = $1
              AND a.released_at IS NULL AND a.expires_at > $2
              AND (a.claimed_at IS NOT NULL OR a.claim_by > $2)
              AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.customer_id = a.customer_id
                                AND h.event_id = $1 AND h.state = 'held'
                                AND h.expires_at > now())
              AND (greatest(a.admitted_at, a.claimed_at) > $3
                   OR EXISTS (SELECT 1 FROM holds h WHERE h.customer_id = a.customer_id
                                AND h.event_id = $1
                                AND h.ended_at > now() - $4 * interval '1 second')))::int
              AS seekers,
           (SELECT count(*) FROM holds WHERE event_id = $1)::int AS holds,
           (SELECT coalesce(avg(quantity), 0) FROM holds WHERE event_id = $1)::float8 AS avg`,
        [event.eventId, new Date(clock.nowMs()),
          new Date(clock.nowMs() - knobs.seekerSeconds * 1000), knobs.seekerSeconds],
      );
      const row = rows[0] as NonNullable<(typeof rows)[0]>;
      const perShopper = row.holds >= 20 ? Math.min(10, Math.max(1, row.avg)) : 2;
      return { ...row, perShopper };
    }

    it('never admits more shoppers than the tickets left can serve (random sales)', async () => {
      type Step =
        | { kind: 'tick' } | { kind: 'hold'; pick: number; quantity: number }
        | { kind: 'release'; pick: number } | { kind: 'buy'; pick: number }
        | { kind: 'join'; count: number };
      const step: fc.Arbitrary<Step> = fc.oneof(
        fc.constant({ kind: 'tick' as const }),
        fc.record({ kind: fc.constant('hold' as const), pick: fc.nat(), quantity: fc.integer({ min: 1, max: 4 }) }),
        fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
        fc.record({ kind: fc.constant('buy' as const), pick: fc.nat() }),
        fc.record({ kind: fc.constant('join' as const), count: fc.integer({ min: 1, max: 8 }) }),
      );
      await fc.assert(fc.asyncProperty(
        fc.integer({ min: 3, max: 30 }), fc.array(step, { minLength: 5, maxLength: 25 }),
        async (standing, steps) => {
          const event = await queuedEvent({}, standing);
          const pool = await customers(40);
          let joined = 0;
          const holds: { fan: string; holdId: string }[] = [];
          let refused = 0;
          await join(event, pool.slice(0, 10));
          joined = 10;
          for (const s of steps) {
            const live = (await admissions(event)).map((a) => a.customer);
            if (s.kind === 'join') {
              const next = pool.slice(joined, joined + s.count);
              await join(event, next);
              joined += next.length;
            } else if (s.kind === 'hold' && live.length > 0) {
              const fan = live[s.pick % live.length] as string;
              try {
                holds.push({ fan, holdId: await holdFor(event, fan, s.quantity) });
              } catch (error) {
                if (!(error instanceof DomainError)) throw error;
                // Only running out (or the per-customer limit) may refuse a hold here.
                expect(['insufficient_inventory', 'limit_exceeded']).toContain(error.code);
                refused += 1;
              }
            } else if (s.kind === 'release' && holds.length > 0) {
              const [h] = holds.splice(s.pick % holds.length, 1);
              if (h !== undefined) await releaseHold(db, h.fan, h.holdId);
            } else if (s.kind === 'buy' && holds.length > 0) {
              const [h] = holds.splice(s.pick % holds.length, 1);
              if (h !== undefined) await buy(event, h.fan, h.holdId);
            } else {
              const outcome = await tick(event);
              if (outcome.kind !== 'ticked') throw new Error(outcome.kind);
              // The tick's one-pass read (unsold tickets only) agrees with a recount of
              // every ticket row, whatever the mix of sold, held and lapsed tickets.
              const before = await independentFigures(event);
              expect(outcome.status.supply).toMatchObject({
                available: before.available, held: before.returnable,
                mayReturn: before.returnable,
              });
              if (admittedIn(outcome).length === 0) continue;
              // Whoever this tick let in, the store now holds no more shoppers looking
              // than the tickets left can serve (rounding up: one shopper per last ticket).
              const f = await independentFigures(event);
              const tickets = f.available + Math.floor(knobs.heldReturnShare * f.returnable);
              expect(f.seekers).toBeLessThanOrEqual(Math.ceil(tickets / f.perShopper));
            }
          }
        },
      ), { numRuns: 12 });
    });

    it('a fan who leaves frees the slot; the next in line is admitted on the next tick',
      async () => {
        const event = await queuedEvent({ maxActiveShoppers: 1 });
        const [first, second, third] = await customers(3) as [string, string, string];
        await join(event, [first, second, third]);
        expect(admittedIn(await tick(event))).toEqual([first]);
        expect(admittedIn(await tick(event))).toEqual([]);
        const room = waitingRoom(ctx);
        const left = await room.leave(event, first);
        expect(left).toMatchObject({ state: 'left', position: null, etaSeconds: null });
        expect(admittedIn(await tick(event))).toEqual([second]);
        const { rows } = await db.query<{ release_reason: string }>(
          'SELECT release_reason FROM queue_admissions WHERE event_id = $1 AND customer_id = $2',
          [event.eventId, first],
        );
        expect(rows[0]?.release_reason).toBe('left');
        // Leaving is final: again is refused and changes nothing; re-joining says "left".
        await expect(leaveLine(db, event.eventId, first, 'left', clock.nowMs()))
          .rejects.toMatchObject({ code: 'already_left' });
        expect((await room.join(event, first)).view.state).toBe('left');
        expect((await room.view(event, third)).position).toBe(1);
      });

    it('skips nobody and admits nobody twice when slots free out of order', async () => {
      const event = await queuedEvent({ maxActiveShoppers: 3 });
      const line = await customers(24);
      await join(event, line);
      const leftEarly = new Set([line[4], line[5], line[9], line[15], line[23]] as string[]);
      for (const fan of leftEarly) await leaveLine(db, event.eventId, fan, 'left', clock.nowMs());
      const seen = new Set<string>();
      const order: string[] = [];
      for (let round = 0; round < 60 && order.length < line.length - leftEarly.size; round++) {
        for (const fan of admittedIn(await tick(event, 5))) {
          expect(seen.has(fan)).toBe(false);
          seen.add(fan);
          order.push(fan);
        }
        // Free the live slots out of order (the latest admitted first), each a different way.
        const { rows: untouched } = await db.query<{ customer_id: string }>(
          `SELECT customer_id FROM queue_admissions
            WHERE event_id = $1 AND released_at IS NULL AND claimed_at IS NULL
            ORDER BY number DESC LIMIT 1`,
          [event.eventId],
        );
        const fan = untouched[0]?.customer_id;
        if (fan === undefined) continue;
        const way = round % 3;
        if (way === 0) await releaseShopperSlot(db, event.eventId, fan, clock.nowMs());
        else if (way === 1) await leaveLine(db, event.eventId, fan, 'left', clock.nowMs())
          .catch(() => undefined);
        else await claimAdmission(db, event.eventId, fan, clock.nowMs()); // then idles out
      }
      expect(order).toEqual(line.filter((fan) => !leftEarly.has(fan)));
      const rows = await admissions(event);
      expect(rows.map((r) => r.customer)).toEqual(order);
      expect(new Set(rows.map((r) => r.n)).size).toBe(rows.length);
    });

    it('a shopper who holds nothing gives the slot back after the idle time', async () => {
      const event = await queuedEvent({ maxActiveShoppers: 3 });
      const [idle, holder, trier, next] = await customers(4) as [string, string, string, string];
      await join(event, [idle, holder, trier, next]);
      expect(admittedIn(await tick(event, 20))).toEqual([idle, holder, trier]);
      await claimAdmission(db, event.eventId, idle, clock.nowMs());
      await claimAdmission(db, event.eventId, trier, clock.nowMs());
      await holdFor(event, holder, 2);
      clock.advance(10_000);
      // The trier keeps trying (every hold attempt with the pass counts), unsuccessfully.
      await claimAdmission(db, event.eventId, trier, clock.nowMs());
      expect(admittedIn(await tick(event, 20))).toEqual([]);
      clock.advance(10_000);
      // The idle shopper's slot frees; the one with tickets in the cart keeps theirs, and
      // so does the one still trying.
      expect(admittedIn(await tick(event, 20))).toEqual([next]);
      const { rows } = await db.query<{ customer_id: string; release_reason: string | null }>(
        `SELECT customer_id, release_reason FROM queue_admissions
          WHERE event_id = $1 ORDER BY number`,
        [event.eventId],
      );
      expect(rows.map((r) => r.release_reason)).toEqual(['idle', null, null, null]);
    });

    it('a seeker with no sign of life stops counting against the room; the slot stands',
      async () => {
        // Four tickets (two seats, two standing) at two per shopper: room for two seekers.
        const event = await queuedEvent({}, 2);
        const [first, second, third] = await customers(3) as [string, string, string];
        await join(event, [first, second, third]);
        expect(admittedIn(await tick(event))).toEqual([first, second]);
        expect(admittedIn(await tick(event))).toEqual([]);
        clock.advance(knobs.seekerSeconds * 1000);
        // Control: with a window longer than the silence, both still count; nobody is let in.
        const patient = await tickLine(db, event, {
          nowMs: clock.nowMs(), token: 1, claimGraceSeconds: graceSeconds,
          idleSeconds: 3_600, supply: { ...knobs, seekerSeconds: 3_600 },
        });
        expect(admittedIn(patient)).toEqual([]);
        // Neither has shown up for the window: the next fan is admitted, and their slots
        // stand (the claim grace decides those, as before).
        expect(admittedIn(await tick(event))).toEqual([third]);
        const { rows } = await db.query<{ released_at: Date | null }>(
          'SELECT released_at FROM queue_admissions WHERE event_id = $1 ORDER BY number',
          [event.eventId],
        );
        expect(rows.map((r) => r.released_at)).toEqual([null, null, null]);
        // A sign of life (a hold tried) makes a seeker count again at once.
        await claimAdmission(db, event.eventId, first, clock.nowMs());
        const outcome = await tick(event);
        if (outcome.kind !== 'ticked') throw new Error(outcome.kind);
        expect(outcome.status.supply?.seekers).toBe(2);
      });

    it('fans who leave empty-handed while all is in carts hold the carts\' room for the '
      + 'seeker window; tickets on sale never wait for it', async () => {
      // Ten standing units in one cart, both seats sold: the carts' share (⌊0.25 × 10⌋ = 2
      // tickets) makes room for one shopper at two each.
      const event = await queuedEvent({}, 10);
      const [holder, first, second, third, fourth] =
        await customers(5) as [string, string, string, string, string];
      await join(event, [holder]);
      expect(admittedIn(await tick(event))).toEqual([holder]);
      await holdFor(event, holder, 10);
      await db.query(
        `UPDATE tickets SET order_id = gen_random_uuid()
          WHERE event_id = $1 AND seat_number IS NOT NULL`, [event.eventId]);
      await join(event, [first, second, third, fourth]);
      expect(admittedIn(await tick(event))).toEqual([first]);
      // The first finds nothing and gives the pass back: nobody follows on the same bet...
      await claimAdmission(db, event.eventId, first, clock.nowMs());
      await leaveLine(db, event.eventId, first, 'left', clock.nowMs());
      expect(admittedIn(await tick(event))).toEqual([]);
      // ...until the seeker window has passed.
      clock.advance(knobs.seekerSeconds * 1000);
      expect(admittedIn(await tick(event))).toEqual([second]);
      await claimAdmission(db, event.eventId, second, clock.nowMs());
      await leaveLine(db, event.eventId, second, 'left', clock.nowMs());
      expect(admittedIn(await tick(event))).toEqual([]);
      // Control: not counting those who left, the next fan comes in on the same bet at once.
      const forgetful = await tickLine(db, event, {
        nowMs: clock.nowMs(), token: 1, claimGraceSeconds: graceSeconds,
        idleSeconds: 3_600, supply: { ...knobs, seekerSeconds: 0.001 },
      });
      expect(admittedIn(forgetful)).toEqual([third]);
      await leaveLine(db, event.eventId, third, 'left', clock.nowMs());
      // The cart's tickets back on sale (by its timer, unswept) make room at once, whoever
      // left lately. The hold and its tickets lapse together, as every path keeps them
      // (the tick's kept figures, migration 047, rest on it).
      await db.query(
        `UPDATE holds SET expires_at = now() - interval '1 second',
                claim_expires_at = now() - interval '1 second'
          WHERE event_id = $1 AND customer_id = $2`, [event.eventId, holder]);
      await db.query(
        `UPDATE tickets SET hold_expires_at = now() - interval '1 second'
          WHERE event_id = $1 AND seat_number IS NULL AND hold_id IS NOT NULL`,
        [event.eventId]);
      const outcome = await tick(event);
      expect(admittedIn(outcome)).toEqual([fourth]);
      if (outcome.kind !== 'ticked') throw new Error(outcome.kind);
      expect(outcome.status.supply?.leftLately).toBeGreaterThanOrEqual(2);
    });

    it('a shopper whose cart lapsed unpaid gives the slot back at once', async () => {
      const event = await queuedEvent({ maxActiveShoppers: 3 });
      const [lapsed, released, holder, next] =
        await customers(4) as [string, string, string, string];
      await join(event, [lapsed, released, holder, next]);
      expect(admittedIn(await tick(event))).toEqual([lapsed, released, holder]);
      const lapsedHold = await holdFor(event, lapsed, 2);
      await releaseHold(db, released, await holdFor(event, released, 2));
      await holdFor(event, holder, 2);
      // The lapsed fan's cart runs out its timer (by the database clock, as every hold).
      await db.query(
        `UPDATE holds SET expires_at = now() - interval '1 second' WHERE hold_id = $1`,
        [lapsedHold],
      );
      await db.query(
        `UPDATE tickets SET hold_expires_at = now() - interval '1 second' WHERE hold_id = $1`,
        [lapsedHold],
      );
      // Idle time is an hour: only the lapsed cart frees a slot. The fan who released their
      // cart is still shopping (choosing again), and so is the one with tickets in the cart.
      expect(admittedIn(await tick(event))).toEqual([next]);
      const { rows } = await db.query<{ customer_id: string; release_reason: string | null }>(
        `SELECT customer_id, release_reason FROM queue_admissions
          WHERE event_id = $1 ORDER BY number`,
        [event.eventId],
      );
      expect(rows.map((r) => r.release_reason)).toEqual(['idle', null, null, null]);
    });

    it('tells waiting fans the tickets left; in carts, no time is promised', async () => {
      const event = await queuedEvent({ maxActiveShoppers: 1 }, 6);
      const line = await customers(6);
      await join(event, line);
      const [shopper] = admittedIn(await tick(event)) as [string];
      const room = waitingRoom(ctx);
      const open = await room.view(event, line[1] as string);
      expect(open).toMatchObject({
        state: 'waiting', position: 1, outlook: 'open', tickets: { available: 8, inCarts: 0 },
      });
      expect(open.etaSeconds).toEqual(expect.any(Number));
      // Far back, the tickets left cannot serve the fans ahead.
      const far = await room.view(event, line[5] as string);
      expect(far).toMatchObject({ outlook: 'unlikely', etaSeconds: null });
      expect(far.waitlistUrl).toMatch(/\/queue\/me\/waitlist$/);
      // The shopper holds every floor ticket; the two seats go too.
      await holdFor(event, shopper, 6);
      await db.query(
        `UPDATE tickets SET order_id = gen_random_uuid()
          WHERE event_id = $1 AND zone_key = 'seats'`,
        [event.eventId],
      );
      await tick(event);
      expect(await room.view(event, line[1] as string)).toMatchObject({
        state: 'waiting', outlook: 'in_carts', etaSeconds: null,
        tickets: { available: 0, inCarts: 6 },
      });
    });

    it('tells waiting fans when only scattered single seats are left', async () => {
      const details = await buildEvent(ctx, {
        venue: await buildVenue(ctx, { rows: 2, seatsPerRow: 5, standing: 1 }),
        onSaleAt: new Date(Math.min(clock.nowMs(), Date.now()) - 60_000).toISOString(),
        maxTicketsPerCustomer: 4,
        queue: { enabled: true, admitPerMinute: 60_000, maxActiveShoppers: 1 },
      });
      const event = await loadEvent(db, details.eventId);
      // Sold: the standing unit and seats 2 and 4 of each row: six single seats are left.
      await db.query(
        `UPDATE tickets SET order_id = gen_random_uuid()
          WHERE event_id = $1 AND (seat_number IS NULL OR seat_number IN (2, 4))`,
        [event.eventId],
      );
      const line = await customers(3);
      await join(event, line);
      const outcome = await tick(event);
      if (outcome.kind !== 'ticked') throw new Error(outcome.kind);
      expect(outcome.status.supply?.shape).toMatchObject({ runs: [6, 0, 0], pool: 0, together: 1 });
      const view = await waitingRoom(ctx).view(event, line[1] as string);
      // By counts, six tickets serve the seeker and this fan at two each; not together.
      expect(view).toMatchObject({
        state: 'waiting', position: 1, outlook: 'unlikely', etaSeconds: null,
        tickets: { available: 6, inCarts: 0, together: 1 },
      });
      expect(outlookFor({ ...(outcome.status.supply as Supply), shape: undefined }, 1, false))
        .toBe('open');
      // Seat 4 of each row comes back: two runs of three (3, 4, 5), a pair for the seeker
      // and one for this fan.
      await db.query(
        'UPDATE tickets SET order_id = NULL WHERE event_id = $1 AND seat_number = 4',
        [event.eventId],
      );
      await tick(event);
      const open = await waitingRoom(ctx).view(event, line[1] as string);
      expect(open).toMatchObject({ outlook: 'open', tickets: { available: 8, together: 3 } });
      expect(open.etaSeconds).toEqual(expect.any(Number));
    });

    it('closes when nothing is available and nothing held may come back', async () => {
      const event = await queuedEvent({ maxActiveShoppers: 1 }, 4);
      const line = await customers(3);
      await join(event, line);
      const [shopper] = admittedIn(await tick(event)) as [string];
      const holdId = await holdFor(event, shopper, 4);
      await db.query(
        `UPDATE tickets SET order_id = gen_random_uuid()
          WHERE event_id = $1 AND zone_key = 'seats'`,
        [event.eventId],
      );
      // Held, no payment under way: they may come back, so the line stays open.
      let outcome = await tick(event);
      expect(outcome.kind === 'ticked' && outcome.status.soldOut).toBe(false);
      // The payment starts: nothing left may come back, so the line closes.
      await db.query(
        `INSERT INTO orders (order_id, event_id, customer_id, hold_id, status, quantity,
                             total_cents, currency)
         VALUES (gen_random_uuid(), $1, $2, $3, 'pending_payment', 4, 12000, 'EUR')`,
        [event.eventId, shopper, holdId],
      );
      outcome = await tick(event);
      expect(outcome.kind === 'ticked' && outcome.status.soldOut).toBe(true);
      const view = await waitingRoom(ctx).view(event, line[2] as string);
      expect(view).toMatchObject({ state: 'sold_out', outlook: 'sold_out' });
      expect(view.waitlistUrl).toBe(`/api/v1/events/${event.eventId}/queue/me/waitlist`);
      const { rows } = await db.query<{ closed_at: Date | null; base: number | null }>(
        'SELECT closed_at, waitlist_seq_base AS base FROM queue_state WHERE event_id = $1',
        [event.eventId],
      );
      expect(rows[0]?.closed_at).not.toBeNull();
      // The closing tick reserved the waitlist block, so fans moving in a herd only read it.
      expect(rows[0]?.base).not.toBeNull();
      // The notifier is told once who was still waiting, in line order.
      await tick(event);
      const notices = await db.query<{ payload: { customerIds: string[] } }>(
        `SELECT payload FROM outbox_events WHERE event_id = $1 AND kind = 'queue.closed'`,
        [event.eventId],
      );
      expect(notices.rows.map((row) => row.payload.customerIds)).toEqual([line.slice(1)]);
    });

    it('moves fans to the waitlist in one step, in line order whenever they click', async () => {
      const event = await queuedEvent({ maxActiveShoppers: 1 }, 2);
      const line = await customers(6);
      await join(event, line);
      const [shopper] = admittedIn(await tick(event)) as [string];
      await db.query('UPDATE tickets SET order_id = gen_random_uuid() WHERE event_id = $1',
        [event.eventId]);
      const closed = await tick(event);
      expect(closed.kind === 'ticked' && closed.status.soldOut).toBe(true);
      const room = waitingRoom(ctx);
      // They click in a scrambled order; someone joins the waitlist directly in between.
      const [direct] = await customers(1) as [string];
      const clicks = [line[4], line[2], line[5], line[1]] as string[];
      for (const [i, fan] of clicks.entries()) {
        const moved = await moveToWaitlist(ctx, room, event, fan, { quantity: 2 });
        expect(moved.queue.state).toBe('left');
        expect(moved.waitlist.status).toBe('waiting');
        if (i === 1) await joinWaitlist(ctx, { customerId: direct, eventId: event.eventId, quantity: 1 });
      }
      const position = async (fan: string): Promise<number | null | undefined> =>
        (await listWaitlist(db, fan)).find((e) => e.eventId === event.eventId)?.position;
      expect(await Promise.all([line[1], line[2], line[4], line[5], direct]
        .map((fan) => position(fan as string)))).toEqual([1, 2, 3, 4, 5]);
      // One step, once: the fan has left the line; refusals change nothing.
      await expect(moveToWaitlist(ctx, room, event, line[1] as string, { quantity: 2 }))
        .rejects.toMatchObject({ code: 'already_left' });
      await expect(moveToWaitlist(ctx, room, event, line[3] as string, { quantity: 99 }))
        .rejects.toBeInstanceOf(DomainError);
      expect((await room.view(event, line[3] as string)).state).toBe('sold_out');
      expect(await position(line[3] as string)).toBeUndefined();
      // A ticket comes back while fans wait on the waitlist: it is theirs, the line stays shut.
      await db.query(
        `UPDATE tickets SET order_id = NULL WHERE event_id = $1 AND ticket_no =
           (SELECT min(ticket_no) FROM tickets WHERE event_id = $1)`,
        [event.eventId],
      );
      const after = await tick(event);
      expect(after.kind === 'ticked' && after.status.soldOut).toBe(true);
      expect(after.kind === 'ticked' && after.admitted).toEqual([]);
      expect(shopper).toBe(line[0]);
    });

    it('moves a herd told sold out together: place order kept, one entry each, leavers stay out',
      async () => {
        const event = await queuedEvent({ maxActiveShoppers: 1 }, 2);
        const line = await customers(40);
        await join(event, line);
        admittedIn(await tick(event));
        await db.query('UPDATE tickets SET order_id = gen_random_uuid() WHERE event_id = $1',
          [event.eventId]);
        const closed = await tick(event);
        expect(closed.kind === 'ticked' && closed.status.soldOut).toBe(true);
        // A room of its own whose database counts move batches (the batcher is per room);
        // each batch is one round trip, its own transaction. It also sees how many run at
        // once: as many as the limit on PostgreSQL once enough wait, one on PGlite.
        let batches = 0;
        let running = 0;
        let mostAtOnce = 0;
        const query = ctx.db.query.bind(ctx.db);
        const spied = { ...ctx, db: Object.assign(Object.create(ctx.db) as typeof ctx.db, {
          query: ((sql: string, params?: unknown[]) => {
            if (!sql.includes('waitlist_move_batch')) return query(sql, params);
            batches++;
            running++;
            mostAtOnce = Math.max(mostAtOnce, running);
            return query(sql, params).finally(() => { running--; });
          }) as typeof ctx.db.query,
        }) };
        const room = new WaitingRoom(spied);
        const leaver = line[7] as string;
        const greedy = line[11] as string;
        await room.leave(event, leaver);
        // Everyone at once, in a scrambled order; three fans click twice; one asks too much;
        // the fan who left asks too; so does a stranger.
        const [stranger] = await customers(1) as [string];
        const waiting = line.slice(1);
        const clicks = [...waiting].sort((a, b) => (a < b ? -1 : 1));
        clicks.push(line[3] as string, line[20] as string, line[39] as string, stranger);
        batches = 0;
        const results = await Promise.allSettled(clicks.map((fan) => moveToWaitlist(
          spied, room, event, fan, { quantity: fan === greedy ? 99 : 2 })));
        const byFan = new Map<string, PromiseSettledResult<unknown>[]>();
        clicks.forEach((fan, i) => byFan.set(fan, [...(byFan.get(fan) ?? []), results[i]!]));
        const movers = waiting.filter((fan) => fan !== leaver && fan !== greedy);
        for (const fan of movers) {
          const [first, ...again] = byFan.get(fan) ?? [];
          expect(first?.status, fan).toBe('fulfilled');
          // A second click finds the fan moved already, and changes nothing.
          for (const r of again) {
            expect(r).toMatchObject({ status: 'rejected', reason: { code: 'already_left' } });
          }
        }
        expect(byFan.get(leaver)?.[0]).toMatchObject({ status: 'rejected',
          reason: { code: 'already_left' } });
        expect(byFan.get(stranger)?.[0]).toMatchObject({ status: 'rejected',
          reason: { code: 'not_found' } });
        expect(byFan.get(greedy)?.[0]?.status).toBe('rejected');
        // Group commit: far fewer batches than moves (one alone would take one each).
        expect(batches).toBeGreaterThan(0);
        expect(batches).toBeLessThan(movers.length / 2);
        expect(mostAtOnce).toBe(db.kind === 'pglite' ? 1 : limits.queueMoveBatchesInFlight);
        // On the waitlist: exactly the movers, once each, offered in line order.
        const { rows } = await db.query<{ customer_id: string }>(
          `SELECT customer_id FROM waitlist_entries WHERE event_id = $1 AND status = 'waiting'
            ORDER BY seq`,
          [event.eventId],
        );
        expect(rows.map((r) => r.customer_id)).toEqual(movers);
        const positions = await Promise.all(movers.map(async (fan) =>
          (await listWaitlist(db, fan)).find((e) => e.eventId === event.eventId)?.position));
        expect(positions).toEqual(movers.map((_, i) => i + 1));
        // The refused fan is still in line, told sold out; the leaver stays left.
        expect((await room.view(event, greedy)).state).toBe('sold_out');
        expect((await room.view(event, leaver)).state).toBe('left');
        const moved = (await room.view(event, movers[0] as string));
        expect(moved.state).toBe('left');
        await expectCountsExact(event);
      });

    it('moves racing the close of the line: one block, line order kept', async () => {
      const event = await queuedEvent({ maxActiveShoppers: 1 }, 2);
      const line = await customers(20);
      await join(event, line);
      admittedIn(await tick(event));
      await db.query('UPDATE tickets SET order_id = gen_random_uuid() WHERE event_id = $1',
        [event.eventId]);
      // The closing tick and the moves race for the line's block of waitlist places: the
      // first move finds none reserved and reserves it, unless the tick got there first.
      const movers = line.slice(1);
      const clicks = [...movers].sort((a, b) => (a < b ? -1 : 1));
      const [closed, ...moves] = await Promise.allSettled([
        tick(event), ...clicks.map((fan) => moveToWaitlist(ctx, waitingRoom(ctx), event, fan,
          { quantity: 2 })),
      ]);
      expect(closed?.status).toBe('fulfilled');
      for (const move of moves) expect(move.status).toBe('fulfilled');
      // One block: every mover took base + their number, so offers go in line order.
      const { rows } = await db.query<{ customer_id: string; place: string }>(
        `SELECT w.customer_id, (w.seq - s.waitlist_seq_base - q.number)::text AS place
           FROM waitlist_entries w JOIN queue_state s USING (event_id)
           JOIN queue_entries q USING (event_id, customer_id)
          WHERE w.event_id = $1 ORDER BY w.seq`,
        [event.eventId],
      );
      expect(rows.map((row) => row.customer_id)).toEqual(movers);
      expect(new Set(rows.map((row) => row.place))).toEqual(new Set(['0']));
      await expectCountsExact(event);
    });

    it('moves racing a return that offers tickets: each fan once, the earliest offered',
      async () => {
        const event = await queuedEvent({ maxActiveShoppers: 1 }, 2);
        const line = await customers(25);
        await join(event, line);
        const [shopper] = admittedIn(await tick(event)) as [string];
        const holdId = await holdFor(event, shopper, 2);
        await db.query(
          `UPDATE tickets SET order_id = gen_random_uuid()
            WHERE event_id = $1 AND zone_key = 'seats'`,
          [event.eventId],
        );
        const room = waitingRoom(ctx);
        // The first three are on the waitlist before the race, so the return is theirs.
        for (const fan of line.slice(1, 4)) {
          await moveToWaitlist(ctx, room, event, fan, { quantity: 2 });
        }
        const herd = line.slice(4);
        const results = await Promise.allSettled([
          releaseHold(db, shopper, holdId),
          ...[...herd].reverse().map((fan) => moveToWaitlist(ctx, room, event, fan,
            { quantity: 2 })),
        ]);
        for (const result of results) expect(result.status).toBe('fulfilled');
        // Everyone once, in line order; the earliest took the offer, the rest wait.
        const list = await waitlistOf(event);
        expect(list.map((entry) => entry.c)).toEqual(line.slice(1));
        expect(list.map((entry) => entry.status))
          .toEqual(['offered', ...line.slice(2).map(() => 'waiting')]);
        const positions = await Promise.all(line.slice(2).map(async (fan) =>
          (await listWaitlist(db, fan)).find((e) => e.eventId === event.eventId)?.position));
        expect(positions).toEqual(line.slice(2).map((_, i) => i + 1));
        await expectCountsExact(event);
      });
  });
}
