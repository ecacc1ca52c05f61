/**
 * The line's kept counts (migration 046, queue/counts.ts) against a recount of the rows:
 * after any mix of joins (pre-queue and numbered), the draw, admission ticks, claims,
 * leaves, moves to the waitlist, released and lapsed slots, on both backends. The controls
 * show the recount is a real check: a write whose counts are skipped is caught, and so is
 * an admission racing a leave without the lock that orders them.
 * A failure prints the seed and the shrunk plan; FC_SEED=<seed> replays it.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadEvent, type EventRecord } from '../catalog/events.js';
import type { AppContext } from '../context.js';
import { DomainError } from '../core/errors.js';
import { ManualClock } from '../core/clock.js';
import type { Db, Queryable } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { buildEvent, buildVenue, insertCustomerRows } from '../testing/factories.js';
import { waitForLockWait } from '../testing/lockWait.js';
import { unguardAdmissionLock, withoutKeptCounts } from '../testing/queueCounts.js';
import {
  claimAdmission, queueStats, releaseShopperSlot, tickLine,
} from './admission.js';
import { readQueueCounts, recountQueueCounts } from './counts.js';
import { moveBatch } from './handover.js';
import { leaveLine } from './leave.js';
import { joinLine } from './line.js';

const backends = await testBackends();
const seed = Number(process.env.FC_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** One step of a plan; `pick` chooses among the fans who joined (modulo their number). */
type Step =
  | { kind: 'join'; count: number }
  | { kind: 'rejoin'; pick: number }
  | { kind: 'tick'; advanceMs: number; idleSeconds: number }
  | {
    kind: 'claim' | 'leave' | 'leaveAdmitted' | 'toWaitlist' | 'leaveAsWaitlist' | 'release';
    pick: number;
  };

const pick = fc.nat({ max: 1_000 });
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.integer({ min: 1, max: 6 }).map((count) => ({ kind: 'join', count }) as const),
  },
  { weight: 1, arbitrary: pick.map((p) => ({ kind: 'rejoin', pick: p }) as const) },
  {
    weight: 4,
    arbitrary: fc.tuple(fc.integer({ min: 1_000, max: 40_000 }), fc.constantFrom(2, 3_600))
      .map(([advanceMs, idleSeconds]) => ({ kind: 'tick', advanceMs, idleSeconds }) as const),
  },
  ...(['claim', 'leave', 'leaveAdmitted', 'toWaitlist', 'leaveAsWaitlist', 'release'] as const)
    .map((kind) => ({
    weight: kind === 'claim' ? 3 : 1,
      arbitrary: pick.map((p) => ({ kind, pick: p }) as const),
    })),
);

/**
 * A plan that reaches every count (run first, as an example): pre-queue joins, the draw at
 * on-sale, claims, idle releases, an order's release, leaves of admitted and waiting fans,
 * moves to the waitlist, and slots that lapse.
 */
const tour: Step[] = [
  { kind: 'join', count: 6 }, { kind: 'tick', advanceMs: 40_000, idleSeconds: 3_600 },
  { kind: 'claim', pick: 0 }, { kind: 'claim', pick: 1 },
  { kind: 'tick', advanceMs: 3_000, idleSeconds: 2 },
  { kind: 'tick', advanceMs: 1_000, idleSeconds: 3_600 },
  { kind: 'release', pick: 0 }, { kind: 'leaveAdmitted', pick: 1 },
  { kind: 'join', count: 4 }, { kind: 'leave', pick: 9 }, { kind: 'toWaitlist', pick: 8 },
  { kind: 'leaveAsWaitlist', pick: 7 }, { kind: 'tick', advanceMs: 120_000, idleSeconds: 3_600 },
];

/** Refusals a step may meet (already left, not admitted): expected outcomes, not failures. */
function expected(error: unknown): void {
  if (!(error instanceof DomainError)) throw error;
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`kept queue counts on ${backend.name}`, () => {
    let db: Db;
    let clock: ManualClock;
    let ctx: AppContext;

    beforeAll(async () => {
      db = await backend.open();
      // The sale is open by the database's clock (moves to the waitlist check it), while
      // the line's own time is pinned and starts before on-sale, so joins enter a pre-queue.
      clock = new ManualClock(Date.now() - 60_000);
      ctx = buildTestContext(db, { clock });
    });
    afterAll(async () => db?.close());

    async function queuedEvent(): Promise<EventRecord> {
      const details = await buildEvent(ctx, {
        venue: await buildVenue(ctx, { standing: 1_000 }),
        onSaleAt: new Date(clock.nowMs() + 30_000).toISOString(),
        queue: {
          enabled: true, admitPerMinute: 600, maxActiveShoppers: 4, passSeconds: 60,
        },
      });
      return await loadEvent(db, details.eventId);
    }

    async function newFans(count: number): Promise<string[]> {
      return await insertCustomerRows(db, count);
    }

    /** The kept counts equal the recount, and the time-dependent figures a direct count. */
    async function expectKeptExact(event: EventRecord): Promise<void> {
      expect(await readQueueCounts(db, event.eventId))
        .toEqual(await recountQueueCounts(db, event.eventId));
      // Joins per second (the dashboard's series) against the entries' joined_at.
      const seconds = await db.query(
        `SELECT second, k.joined AS kept, r.n AS counted
           FROM (SELECT second, sum(joined)::int AS joined FROM queue_join_seconds
                  WHERE event_id = $1 GROUP BY second HAVING sum(joined) <> 0) AS k
           FULL JOIN (SELECT floor(extract(epoch FROM joined_at))::bigint AS second,
                             count(*)::int AS n
                        FROM queue_entries WHERE event_id = $1 GROUP BY 1) AS r USING (second)
          WHERE k.joined IS DISTINCT FROM r.n`,
        [event.eventId],
      );
      expect(seconds.rows).toEqual([]);
      const stats = await queueStats(db, event.eventId, clock.nowMs());
      const { rows } = await db.query<{ live: number; lapsed: number; waiting: number }>(
        `SELECT count(*) FILTER (WHERE released_at IS NULL AND expires_at > $2
                  AND (claimed_at IS NOT NULL OR claim_by > $2))::int AS live,
                count(*) FILTER (WHERE released_at IS NULL AND NOT (expires_at > $2
                  AND (claimed_at IS NOT NULL OR claim_by > $2)))::int AS lapsed,
                (SELECT count(*) FROM queue_entries e WHERE e.event_id = $1
                    AND e.left_at IS NULL AND NOT EXISTS (
                      SELECT 1 FROM queue_admissions y WHERE y.event_id = $1
                         AND y.customer_id = e.customer_id))::int AS waiting
           FROM queue_admissions WHERE event_id = $1`,
        [event.eventId, new Date(clock.nowMs())],
      );
      expect({
        live: stats.activeShoppers, lapsed: stats.freed.lapsed, waiting: stats.waiting,
      }).toEqual(rows[0]);
    }

    /** One of the last fans admitted: a claim or release of a fan in line changes nothing. */
    async function recentlyAdmitted(event: EventRecord, p: number): Promise<string | undefined> {
      const { rows } = await db.query<{ customer_id: string }>(
        `SELECT customer_id FROM queue_admissions WHERE event_id = $1
          ORDER BY number DESC LIMIT 4`, [event.eventId]);
      return rows[p % Math.max(1, rows.length)]?.customer_id;
    }

    async function run(event: EventRecord, fans: string[], s: Step): Promise<void> {
      const fan = (p: number): string | undefined => fans[p % Math.max(1, fans.length)];
      const id = 'pick' in s ? fan(s.pick) : undefined;
      switch (s.kind) {
        case 'join': {
          const ids = await newFans(s.count);
          fans.push(...ids);
          await joinLine(db, event, ids, clock.nowMs());
          return;
        }
        case 'rejoin':
          if (id !== undefined) await joinLine(db, event, [id], clock.nowMs());
          return;
        case 'tick':
          clock.advance(s.advanceMs);
          await tickLine(db, event, {
            nowMs: clock.nowMs(), token: 1, claimGraceSeconds: 5, idleSeconds: s.idleSeconds,
          });
          return;
        case 'claim': {
          const admitted = await recentlyAdmitted(event, s.pick);
          if (admitted !== undefined) {
            await claimAdmission(db, event.eventId, admitted, clock.nowMs());
          }
          return;
        }
        case 'leaveAdmitted': {
          const admitted = await recentlyAdmitted(event, s.pick);
          if (admitted === undefined) return;
          await leaveLine(db, event.eventId, admitted, 'left', clock.nowMs()).catch(expected);
          return;
        }
        case 'leave':
        case 'leaveAsWaitlist':
          if (id === undefined) return;
          await leaveLine(db, event.eventId, id, s.kind === 'leave' ? 'left' : 'waitlist',
            clock.nowMs()).catch(expected);
          return;
        case 'toWaitlist':
          if (id === undefined) return;
          await moveBatch(db, event, [{ customerId: id, zone: 'floor', quantity: 1 }],
            clock.nowMs()).catch(expected);
          return;
        case 'release': {
          const admitted = await recentlyAdmitted(event, s.pick);
          if (admitted !== undefined) {
            await releaseShopperSlot(db, event.eventId, admitted, clock.nowMs());
          }
          return;
        }
      }
    }

    it('equal a recount after any mix of the writes that change them', async () => {
      const numRuns = backend.name === 'pglite' ? 25 : 15;
      console.info(`[queue counts] ${backend.name}: seed ${seed}, ${numRuns} runs`);
      await fc.assert(fc.asyncProperty(
        fc.array(step, { minLength: 5, maxLength: 40 }), async (plan) => {
          const event = await queuedEvent();
          const fans: string[] = [];
          for (const s of plan) {
            await run(event, fans, s);
            await expectKeptExact(event);
          }
        },
      ), { numRuns, seed, verbose: 1, examples: [[tour]] });
      // The plans did reach every kind of count (a property over plans that never left the
      // pre-queue would prove little): summed over every event of the runs.
      const { rows } = await db.query<Record<string, number>>(
        `SELECT sum(pre_queue)::int AS pre_queue, sum(left_line)::int AS left_line,
                sum(waitlist)::int AS waitlist, sum(left_unadmitted)::int AS left_unadmitted,
                sum(admitted)::int AS admitted, sum(freed_order)::int AS freed_order,
                sum(freed_left)::int AS freed_left, sum(freed_idle)::int AS freed_idle
           FROM queue_counts`,
      );
      for (const [name, total] of Object.entries(rows[0] ?? {})) {
        if (name !== 'pre_queue') expect(total, name).toBeGreaterThan(0);
      }
      const drawn = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM queue_draws WHERE phase = \'done\'',
      );
      expect(drawn.rows[0]?.n).toBeGreaterThan(0);
    }, 240_000);

    it('control: a write whose counts are skipped is caught by the recount', async () => {
      const event = await queuedEvent();
      const fans = await newFans(3);
      await joinLine(db, event, fans, clock.nowMs());
      await expectKeptExact(event);
      // The real leave, in a transaction that fires no triggers: the row changes, the
      // counts do not.
      await leaveLine(withoutKeptCounts(db), event.eventId, fans[0] as string, 'left',
        clock.nowMs());
      const kept = await readQueueCounts(db, event.eventId);
      const recount = await recountQueueCounts(db, event.eventId);
      expect(kept).not.toEqual(recount);
      expect({ left: recount.left - kept.left,
        leftUnadmitted: recount.leftUnadmitted - kept.leftUnadmitted })
        .toEqual({ left: 1, leftUnadmitted: 1 });
    });

    // Every queue write's trigger calls it once; a SQL function's INSERT is planned on every
    // call (never inlined), a plpgsql one's once per connection (migration 074).
    it('the counts are added by a function whose statement plan is kept', async () => {
      const { rows } = await db.query<{ lang: string }>(
        `SELECT l.lanname AS lang FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
          WHERE p.proname = 'queue_counts_add'`);
      expect(rows).toEqual([{ lang: 'plpgsql' }]);
    });

    it('counts the lines that existed before the counts, from the migration', async () => {
      const event = await queuedEvent();
      const fans = await newFans(6);
      await joinLine(withoutKeptCounts(db), event, fans.slice(0, 3), clock.nowMs());
      expect((await readQueueCounts(db, event.eventId)).joined).toBe(0);
      await joinLine(db, event, fans.slice(3), clock.nowMs());
      clock.advance(60_000);
      await tickLine(db, event, { nowMs: clock.nowMs(), token: 1, claimGraceSeconds: 5 });
      await leaveLine(db, event.eventId, fans[5] as string, 'left', clock.nowMs());
      // The migration's backfill, run on counts cleared, then rolled back.
      const migration = await readFile(new URL(
        '../storage/migrations/046_queue_counts.sql', import.meta.url), 'utf8');
      const backfill = migration.slice(migration.indexOf('INSERT INTO queue_counts (event_id'));
      const rollback = new Error('rollback');
      await expect(db.tx(async (tx) => {
        await tx.query('DELETE FROM queue_counts');
        // The tick folds old seconds into shard 0 (migration 047), the backfill's rows.
        await tx.query('DELETE FROM queue_join_seconds');
        await tx.exec(backfill);
        const kept = await readQueueCounts(tx, event.eventId);
        expect(kept).toEqual(await recountQueueCounts(tx, event.eventId));
        expect(kept).toMatchObject({ joined: 6, admitted: 4, left: 1 });
        throw rollback;
      })).rejects.toBe(rollback);
    });
  });
}

for (const backend of backends.filter((b) => b.name === 'postgres')) {
  describe.skipIf(!backend.available)(`an admission racing a leave on ${backend.name}`, () => {
    let db: Db;
    let clock: ManualClock;
    let ctx: AppContext;

    beforeAll(async () => {
      db = await backend.open();
      clock = new ManualClock(Date.now());
      ctx = buildTestContext(db, { clock });
    });
    afterAll(async () => db?.close());

    /** A line on sale with one numbered fan, not yet admitted. */
    async function oneFan(): Promise<{ event: EventRecord; fan: string }> {
      const details = await buildEvent(ctx, {
        venue: await buildVenue(ctx, { standing: 100 }),
        onSaleAt: new Date(clock.nowMs() - 60_000).toISOString(),
        queue: { enabled: true, admitPerMinute: 600, maxActiveShoppers: 4 },
      });
      const event = await loadEvent(db, details.eventId);
      const fan = randomUUID();
      await joinLine(db, event, [fan], clock.nowMs());
      return { event, fan };
    }

    // The statements the leave and the tick send (leave.ts, admission.ts admitNext).
    const leave = (tx: Queryable, event: EventRecord, fan: string) => tx.query(
      `UPDATE queue_entries SET left_at = now(), left_reason = 'left'
        WHERE event_id = $1 AND customer_id = $2 AND left_at IS NULL`, [event.eventId, fan]);
    const admit = (tx: Queryable, event: EventRecord, fan: string) => tx.query(
      `INSERT INTO queue_admissions (event_id, customer_id, number, pass_id, admitted_at,
                                     claim_by, expires_at, leader_token)
       SELECT $1, $2, number, gen_random_uuid(), now(), now() + interval '1 minute',
              now() + interval '5 minutes', 1
         FROM queue_entries WHERE event_id = $1 AND customer_id = $2`,
      [event.eventId, fan]);

    /**
     * A leave in flight (written, not committed) when the admission of the same fan is
     * written: neither sees the other's row. Returns once both committed.
     */
    async function leaveThenAdmit(unguarded: boolean): Promise<EventRecord> {
      const { event, fan } = await oneFan();
      let commitLeave!: () => void;
      const leaveMayCommit = new Promise<void>((resolve) => { commitLeave = resolve; });
      let leaveWritten!: () => void;
      const written = new Promise<void>((resolve) => { leaveWritten = resolve; });
      const leaving = db.tx(async (tx) => {
        await leave(tx, event, fan);
        leaveWritten();
        await leaveMayCommit;
      });
      await written;
      const admitting = db.tx(async (tx) => {
        if (unguarded) await unguardAdmissionLock(tx);
        await admit(tx, event, fan);
      });
      // Guarded, the admission waits for the leave's row; unguarded it goes straight on.
      if (!unguarded) await waitForLockWait(db, 'INSERT INTO queue_admissions', 'admission');
      else await admitting;
      commitLeave();
      await Promise.all([leaving, admitting]);
      return event;
    }

    it('control: without the share lock the counts miss the race', async () => {
      const event = await leaveThenAdmit(true);
      const kept = await readQueueCounts(db, event.eventId);
      const recount = await recountQueueCounts(db, event.eventId);
      // The leave saw no admission, the admission saw no leave: counted as never admitted.
      expect(recount.leftUnadmitted).toBe(0);
      expect(kept.leftUnadmitted).toBe(1);
    });

    it('with it, the admission waits for the leave and the counts stay exact', async () => {
      const event = await leaveThenAdmit(false);
      expect(await readQueueCounts(db, event.eventId))
        .toEqual(await recountQueueCounts(db, event.eventId));
    });

    it('an admission first makes the leave wait, and it sees the admission', async () => {
      const { event, fan } = await oneFan();
      let commitAdmission!: () => void;
      const mayCommit = new Promise<void>((resolve) => { commitAdmission = resolve; });
      let admitted!: () => void;
      const written = new Promise<void>((resolve) => { admitted = resolve; });
      const admitting = db.tx(async (tx) => {
        await admit(tx, event, fan);
        admitted();
        await mayCommit;
      });
      await written;
      const leaving = leaveLine(db, event.eventId, fan, 'left');
      await waitForLockWait(db, 'FROM queue_entries', 'leave');
      commitAdmission();
      await Promise.all([admitting, leaving]);
      const kept = await readQueueCounts(db, event.eventId);
      expect(kept).toEqual(await recountQueueCounts(db, event.eventId));
      expect(kept).toMatchObject({ left: 1, admitted: 1, leftUnadmitted: 0 });
    });
  });
}
