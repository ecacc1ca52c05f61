/**
 * The waiting room's domain rules on both database backends, with a manual clock:
 * numbering, the pre-queue draw, fairness, pacing, slot accounting, sold out, fencing and
 * the hold gate. Customers here are bare ids (queue rows do not reference customers), so
 * hundreds of fans cost no password hashing.
 */
import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadEvent, type EventRecord } from '../catalog/events.js';
import { limits } from '../config/limits.js';
import type { QueueSettings } from '../catalog/schemas.js';
import type { AppContext } from '../context.js';
import { ManualClock } from '../core/clock.js';
import { DomainError } from '../core/errors.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { buildEvent } from '../testing/factories.js';
import { createMemoryCoordinator } from '../coord/memory.js';
import type { Coordinator } from '../coord/types.js';
import type { Db } from '../storage/index.js';
import { buildCustomer, buildCustomers, buildVenue } from '../testing/factories.js';
import { TokenRevoked } from '../customers/tokenVersions.js';
import {
  activeLines, queueStats, releaseShopperSlot, tickLine, type TickOutcome,
} from './admission.js';
import { AdmissionDuty } from './duty.js';
import { assertMayHold } from './gate.js';
import { advanceDraw, drawChunk, findDraw } from './draw.js';
import { joinLine, JoinBatcher } from './line.js';
import { drawKey, keyedOrder } from './shuffle.js';
import { waitingRoom } from './room.js';

const backends = await testBackends();
const graceSeconds = 60;

/** Kendall's tau-a between two rankings of the same items (1 = identical order). */
export function kendallTau(a: readonly string[], b: readonly string[]): number {
  const rankB = new Map(b.map((id, i) => [id, i]));
  let concordant = 0;
  let discordant = 0;
  for (let i = 0; i < a.length; i += 1) {
    for (let j = i + 1; j < a.length; j += 1) {
      const bi = rankB.get(a[i] as string) as number;
      const bj = rankB.get(a[j] as string) as number;
      if (bi < bj) concordant += 1;
      else discordant += 1;
    }
  }
  const pairs = (a.length * (a.length - 1)) / 2;
  return (concordant - discordant) / pairs;
}

function fans(count: number): string[] {
  return Array.from({ length: count }, () => randomUUID());
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`waiting room on ${backend.name}`, () => {
    let db: Db;
    let clock: ManualClock;
    let ctx: AppContext;
    let token = 1;

    beforeAll(async () => {
      db = await backend.open();
      clock = new ManualClock(Date.UTC(2030, 0, 1, 10));
      ctx = buildTestContext(db, {
        clock, env: { QUEUE_CLAIM_GRACE_SECONDS: String(graceSeconds) },
      });
    });
    afterAll(async () => db?.close());

    async function queuedEvent(
      queue: Partial<QueueSettings> = {}, onSaleInMs = -60_000,
    ): Promise<EventRecord> {
      // A large floor: these tests are about pacing and order, not about running out.
      const details = await buildEvent(ctx, {
        venue: await buildVenue(ctx, { standing: 10_000 }),
        onSaleAt: new Date(clock.nowMs() + onSaleInMs).toISOString(),
        queue: { enabled: true, admitPerMinute: 6_000, maxActiveShoppers: 1_000, ...queue },
      });
      return await loadEvent(db, details.eventId);
    }

    /**
     * One tick, broadcast as the admission duty does (it also refreshes the cache). Shoppers
     * here place no real holds, so the idle release waits an hour unless a test says so.
     */
    async function tick(
      event: EventRecord, fence = token, idleSeconds = 3_600,
    ): Promise<TickOutcome> {
      const outcome = await tickLine(db, event, {
        nowMs: clock.nowMs(), token: fence, claimGraceSeconds: graceSeconds, idleSeconds,
      });
      if (outcome.kind === 'ticked') await waitingRoom(ctx).publish(outcome.status);
      return outcome;
    }

    async function admitted(event: EventRecord, outcome?: TickOutcome): Promise<string[]> {
      if (outcome !== undefined && outcome.kind !== 'ticked') throw new Error(outcome.kind);
      const { rows } = await db.query<{ customer_id: string }>(
        'SELECT customer_id FROM queue_admissions WHERE event_id = $1 ORDER BY number',
        [event.eventId],
      );
      return rows.map((row) => row.customer_id);
    }

    async function joinAll(event: EventRecord, ids: readonly string[]): Promise<void> {
      for (const id of ids) await joinLine(db, event, [id], clock.nowMs());
    }

    describe('token versions compared in the join batch', () => {
      /** Two customers, R and B; with `revoke`, R's tokens of version 0 are revoked. */
      async function joinPair(revoke: boolean) {
        const event = await queuedEvent();
        const [r, b] = (await buildCustomers(ctx, 2)).map((c) => c.customerId) as [
          string, string];
        if (revoke) {
          await db.query('UPDATE customers SET token_version = 1 WHERE customer_id = $1', [r]);
        }
        const current = new Map<string, number>();
        const outcomes = await joinLine(db, event, [r, b], clock.nowMs(), undefined,
          { versions: new Map([[r, 0], [b, 0]]), current });
        const { rows } = await db.query<{ customer_id: string; number: number }>(
          'SELECT customer_id, number FROM queue_entries WHERE event_id = $1 ORDER BY number',
          [event.eventId]);
        return { r, b, outcomes, current, entries: rows.map((row) => row.customer_id) };
      }

      it('control: with current tokens, both fans of the batch are numbered', async () => {
        const { r, b, outcomes, entries } = await joinPair(false);
        expect([outcomes.get(r)?.number, outcomes.get(b)?.number]).toEqual([1, 2]);
        expect(entries).toEqual([r, b]);
      });

      it('a revoked token joins nothing; the batch numbers the others as if it never came',
        async () => {
          const { r, b, outcomes, current, entries } = await joinPair(true);
          expect(outcomes.has(r)).toBe(false);
          expect(outcomes.get(b)?.number).toBe(1);
          expect(current.get(r)).toBe(1);
          expect(entries).toEqual([b]);
        });

      it('one customer twice in a batch: the revoked token is refused, the current joins',
        async () => {
          const event = await queuedEvent();
          const [first, r] = (await buildCustomers(ctx, 2)).map((c) => c.customerId) as [
            string, string];
          await db.query('UPDATE customers SET token_version = 1 WHERE customer_id = $1', [r]);
          const batcher = new JoinBatcher(db, clock);
          // The first join runs alone; the two of R wait for it and go as one batch.
          const settled = await Promise.allSettled([batcher.join(event, first, 0),
            batcher.join(event, r, 0), batcher.join(event, r, 1)]);
          expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
          expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(TokenRevoked);
          expect((settled[2] as PromiseFulfilledResult<{ number: number | null }>).value.number)
            .toBe(2);
        });
    });

    describe('joining and numbering', () => {
      it('numbers 300 concurrent joins densely and uniquely; re-joins change nothing', async () => {
        const event = await queuedEvent();
        const batcher = new JoinBatcher(db, clock);
        const ids = fans(300);
        const outcomes = await Promise.all(ids.map((id) => batcher.join(event, id)));
        const numbers = outcomes.map((o) => o.number).sort((a, b) => (a ?? 0) - (b ?? 0));
        expect(numbers).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
        expect(outcomes.every((o) => o.created)).toBe(true);

        const again = await Promise.all([...ids.slice(0, 20), ...ids.slice(0, 20)]
          .map((id) => batcher.join(event, id)));
        expect(again.every((o) => !o.created)).toBe(true);
        expect(again.slice(0, 20).map((o) => o.number))
          .toEqual(outcomes.slice(0, 20).map((o) => o.number));
        const { rows } = await db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM queue_entries WHERE event_id = $1', [event.eventId],
        );
        expect(rows[0]?.n).toBe(300);
      });

      it('with one batch in flight, arrival order is number order, inside a batch too',
        async () => {
          const event = await queuedEvent();
          // On PostgreSQL a second batch may wait at the numbering lock beside the first
          // (joinPacing), and the lock, not the node, then orders the two batches, as it
          // orders two nodes' batches (joinBatch.test.ts); inside each batch arrival order
          // holds. One batch at a time, arrival at the node is the whole order.
          const batcher = new JoinBatcher(db, clock, undefined,
            { inFlight: 1, parallelMin: 1, nextFirst: true });
          const outcomes = await Promise.all(fans(300).map((id) => batcher.join(event, id)));
          expect(outcomes.map((o) => o.number))
            .toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
        });

      it('a duplicate inside one batch is joined once and reported created once', async () => {
        const event = await queuedEvent();
        const batcher = new JoinBatcher(db, clock);
        const [fan] = fans(1) as [string];
        const outcomes = await Promise.all([fan, fan, fan].map((id) => batcher.join(event, id)));
        expect(outcomes.map((o) => o.number)).toEqual([1, 1, 1]);
        expect(outcomes.filter((o) => o.created)).toHaveLength(1);
      });
    });

    describe('the pre-queue draw', () => {
      /** Customer ids in number order, with their numbers. */
      async function line(event: EventRecord): Promise<{ id: string; n: number }[]> {
        const { rows } = await db.query<{ customer_id: string; number: number }>(
          `SELECT customer_id, number FROM queue_entries
            WHERE event_id = $1 AND number IS NOT NULL ORDER BY number`,
          [event.eventId],
        );
        return rows.map((r) => ({ id: r.customer_id, n: Number(r.number) }));
      }

      it('shuffles the pre-queue ahead of later joiners, recorded and replayable', async () => {
        const event = await queuedEvent({}, 10 * 60_000);
        const early = fans(30);
        await joinAll(event, early);
        const before = await waitingRoom(ctx).view(event, early[0] as string);
        expect(before).toMatchObject({ state: 'pre_queue', number: null, position: null });

        clock.advance(10 * 60_000 + 1);
        const late = fans(10);
        // The first join after on-sale reserves 1..30 for the pre-queue: correctness does
        // not wait for the tick, and later joiners are numbered after it at once.
        await joinAll(event, late);
        expect(await findDraw(db, event.eventId)).toMatchObject({
          entries: 30, firstNumber: 1, phase: 'keying', numbered: 0,
          algorithm: 'hmac-sha256-order/v1',
        });
        expect((await line(event)).map((e) => e.n)).toEqual(
          Array.from({ length: 10 }, (_, i) => 31 + i),
        );

        // The tick assigns the reserved numbers; admission follows the drawn order, then the
        // later joiners in join order.
        await tick(event);
        const draw = await findDraw(db, event.eventId);
        expect(draw).toMatchObject({ phase: 'done', numbered: 30 });
        const drawnOrder = keyedOrder(early, draw?.seed ?? '');
        expect(drawnOrder).not.toEqual([...early].sort());
        const rows = await line(event);
        expect(rows.map((r) => r.n)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
        expect(rows.map((r) => r.id)).toEqual([...drawnOrder, ...late]);
        expect(await admitted(event)).toEqual([...drawnOrder, ...late]);
      });

      it('numbers later joiners P + 1… at once while the draw is still running', async () => {
        const event = await queuedEvent({}, 60_000);
        const early = fans(45);
        await joinAll(event, early);
        clock.advance(60_000);
        const small = { chunkSize: 10, maxChunks: 1 };
        const outcomes = [];
        // Joins and one-chunk ticks interleave: every join is numbered 46, 47, … at once.
        for (let round = 0; round < 12; round += 1) {
          const [fan] = fans(1) as [string];
          outcomes.push(...(await joinLine(db, event, [fan], clock.nowMs())).values());
          const view = await waitingRoom(ctx).view(event, early[0] as string);
          const draw = await findDraw(db, event.eventId);
          if (draw?.phase !== 'done') {
            // Until its number is assigned, a pre-queue fan still sees the pre-queue.
            const assigned = (await line(event)).some((e) => e.id === early[0]);
            expect(view.state).toBe(assigned ? 'waiting' : 'pre_queue');
          }
          clock.advance(1_000);
          const outcome = await tickLine(db, event, {
            nowMs: clock.nowMs(), token, claimGraceSeconds: graceSeconds, draw: small,
          });
          if (outcome.kind !== 'ticked') throw new Error(outcome.kind);
          // Admission never passes over a reserved number that is not assigned yet.
          const numbered = new Set((await line(event)).map((e) => e.n));
          for (let n = 1; n <= outcome.status.servedUpTo; n += 1) {
            expect(numbered.has(n)).toBe(true);
          }
        }
        expect(outcomes.map((o) => o.number)).toEqual(
          Array.from({ length: 12 }, (_, i) => 46 + i),
        );
        const draw = await findDraw(db, event.eventId);
        expect(draw).toMatchObject({ phase: 'done', numbered: 45 });
        const drawnOrder = keyedOrder(early, draw?.seed ?? '');
        expect((await line(event)).slice(0, 45).map((e) => e.id)).toEqual(drawnOrder);
        clock.advance(1_000);
        await tick(event);
        const late = outcomes.map((o) => o.customerId);
        expect(await admitted(event)).toEqual([...drawnOrder, ...late]);
        expect(await waitingRoom(ctx).view(event, early[0] as string)).toMatchObject({
          state: 'admitted',
        });
      });

      it('resumes a draw interrupted between and inside chunks, with the same result', async () => {
        const event = await queuedEvent({}, 60_000);
        const early = fans(57);
        await joinAll(event, early);
        clock.advance(60_000);
        await joinLine(db, event, fans(3), clock.nowMs());
        // Key and number part of the pre-queue, then "crash": nothing else runs.
        expect((await drawChunk(db, event.eventId, 20)).phase).toBe('keying');
        expect((await drawChunk(db, event.eventId, 20)).phase).toBe('keying');
        expect((await drawChunk(db, event.eventId, 20)).phase).toBe('numbering');
        expect((await drawChunk(db, event.eventId, 20)).numbered).toHaveLength(20);
        // A chunk that fails mid-way rolls back whole (a connection lost mid-statement).
        await expect(db.tx(async (tx) => {
          await tx.query('SELECT 1 FROM queue_draws WHERE event_id = $1 FOR UPDATE',
            [event.eventId]);
          await tx.query('DELETE FROM queue_draw_keys WHERE event_id = $1', [event.eventId]);
          await tx.query('UPDATE queue_draws SET numbered = 40 WHERE event_id = $1',
            [event.eventId]);
          throw new Error('crash');
        })).rejects.toThrow('crash');
        expect(await findDraw(db, event.eventId)).toMatchObject({ numbered: 20 });
        // Another leader takes over and finishes where the last commit left off.
        const rest = await advanceDraw(db, event.eventId, { chunkSize: 15 });
        expect(rest.phase).toBe('done');
        expect(rest.numbered.map((e) => e.number)).toEqual(
          Array.from({ length: 37 }, (_, i) => 21 + i),
        );
        expect((await drawChunk(db, event.eventId, 20)).phase).toBe('done');
        const draw = await findDraw(db, event.eventId);
        expect(draw).toMatchObject({ phase: 'done', numbered: 57, entries: 57 });
        const rows = await line(event);
        expect(rows.map((r) => r.n)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
        expect(rows.slice(0, 57).map((r) => r.id)).toEqual(keyedOrder(early, draw?.seed ?? ''));
      });

      it('keys in SQL exactly as the replay does (HMAC-SHA256 of the seed)', async () => {
        const event = await queuedEvent({}, 60_000);
        const early = fans(12);
        await joinAll(event, early);
        clock.advance(60_000);
        await joinLine(db, event, fans(1), clock.nowMs());
        expect((await drawChunk(db, event.eventId, 100)).phase).toBe('numbering');
        const draw = await findDraw(db, event.eventId);
        const { rows } = await db.query<{ customer_id: string; draw_key: Buffer }>(
          'SELECT customer_id, draw_key FROM queue_draw_keys WHERE event_id = $1',
          [event.eventId],
        );
        expect(rows.map((row) => row.customer_id).sort()).toEqual([...early].sort());
        for (const row of rows) {
          expect(Buffer.from(row.draw_key).toString('hex'))
            .toBe(drawKey(draw?.seed ?? '', row.customer_id).toString('hex'));
        }
        // Numbering takes the keys off the table: a finished draw leaves none behind.
        expect((await advanceDraw(db, event.eventId)).phase).toBe('done');
        const left = await db.query('SELECT 1 FROM queue_draw_keys WHERE event_id = $1',
          [event.eventId]);
        expect(left.rows).toHaveLength(0);
      });

      it('the tick draws at on-sale when nobody joins after it', async () => {
        const event = await queuedEvent({}, 5_000);
        const early = fans(5);
        await joinAll(event, early);
        expect((await tick(event)).kind).toBe('ticked');
        expect(await findDraw(db, event.eventId)).toBeUndefined();
        clock.advance(5_000);
        await tick(event);
        expect(await findDraw(db, event.eventId)).toMatchObject({ entries: 5 });
        expect(new Set(await admitted(event))).toEqual(new Set(early));
      });
    });

    describe('fairness', () => {
      it('admits post-on-sale joiners in join order: Kendall tau = 1', async () => {
        const event = await queuedEvent({ admitPerMinute: 120 });
        const joinOrder: string[] = [];
        // Joins and ticks interleave: 200 fans arrive while the line is moving.
        let seed = 7;
        for (let round = 0; round < 60; round += 1) {
          seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
          const arrivals = fans(seed % 7);
          await joinAll(event, arrivals);
          joinOrder.push(...arrivals);
          clock.advance(1_000);
          await tick(event);
        }
        // Drain the rest in 5 s steps (the pace admits what the elapsed time allows), and
        // stop once everyone is in: a tick is several statements, and 200 one-second ticks
        // took most of a minute on a loaded machine.
        for (let i = 0; i < 100 && (await admitted(event)).length < joinOrder.length; i += 1) {
          clock.advance(5_000);
          await tick(event);
        }
        const admissionOrder = await admitted(event);
        const { rows } = await db.query<{ customer_id: string }>(
          `SELECT customer_id FROM queue_admissions WHERE event_id = $1
            ORDER BY admitted_at, number`, [event.eventId],
        );
        expect(admissionOrder).toHaveLength(joinOrder.length);
        expect(kendallTau(joinOrder, rows.map((r) => r.customer_id))).toBe(1);
      });
    });

    describe('pacing and slots', () => {
      it('never admits more than admitPerMinute in any 60 s window', async () => {
        const event = await queuedEvent({ admitPerMinute: 10 });
        await joinAll(event, fans(60));
        const perSecond: number[] = [];
        for (let second = 0; second < 180; second += 1) {
          clock.advance(1_000);
          const outcome = await tick(event);
          perSecond.push(outcome.kind === 'ticked' ? outcome.admitted.length : 0);
        }
        for (let start = 0; start + 60 <= perSecond.length; start += 1) {
          const inWindow = perSecond.slice(start, start + 60).reduce((a, b) => a + b, 0);
          expect(inWindow).toBeLessThanOrEqual(10);
        }
        const total = perSecond.reduce((a, b) => a + b, 0);
        expect(total).toBeGreaterThanOrEqual(28);
        // Smoothed: no second admits the whole minute's allowance at once.
        expect(Math.max(...perSecond)).toBeLessThanOrEqual(2);
        const last = await tick(event);
        expect(last.kind).toBe('ticked');
        expect(last.kind === 'ticked' ? last.status.ratePerMinute : NaN).toBeCloseTo(10, 0);
      });

      it('caps live shoppers at maxActiveShoppers; release and expiry free slots', async () => {
        const event = await queuedEvent({ maxActiveShoppers: 3, passSeconds: 300 });
        const line = fans(10);
        await joinAll(event, line);
        clock.advance(1_000);
        await tick(event);
        expect(await admitted(event)).toEqual(line.slice(0, 3));
        clock.advance(1_000);
        await tick(event);
        expect(await admitted(event)).toHaveLength(3);

        // The shopper shows up (a first hold with the pass), buys, and the booking engine
        // releases the slot.
        const room = waitingRoom(ctx);
        const first = await room.view(event, line[0] as string);
        expect(first.state).toBe('admitted');
        await assertMayHold(ctx, event, line[0] as string, first.pass);
        expect(await releaseShopperSlot(db, event.eventId, line[0] as string, clock.nowMs()))
          .toBe(true);
        expect(await releaseShopperSlot(db, event.eventId, line[0] as string, clock.nowMs()))
          .toBe(false);
        clock.advance(1_000);
        await tick(event);
        expect(await admitted(event)).toEqual(line.slice(0, 4));
        // The booking engine freed the slot in PostgreSQL; the fan's view, answered from the
        // admissions cache, shows it once the cached pass is older than its bound.
        clock.advance(limits.queueAdmissionCacheMs);
        expect((await room.view(event, line[0] as string)).state).toBe('expired');

        // Fans 2 and 4 hold with their passes; 3 only watches the page (polls) and times
        // out after the grace period: watching is not shopping.
        for (const fan of [line[1], line[3]] as string[]) {
          await assertMayHold(ctx, event, fan, (await room.view(event, fan)).pass);
        }
        for (let poll = 0; poll < 3; poll += 1) {
          expect((await room.view(event, line[2] as string)).state).toBe('admitted');
        }
        clock.advance(graceSeconds * 1000);
        await tick(event);
        expect(await admitted(event)).toEqual(line.slice(0, 5));
        expect((await room.view(event, line[2] as string)).state).toBe('expired');

        // Passes expire: every slot frees at once, and the line moves on.
        clock.advance(300 * 1000);
        await tick(event);
        expect(await admitted(event)).toEqual(line.slice(0, 8));
      });

      it('stops at sold out and tells everyone, resuming if tickets return', async () => {
        const event = await queuedEvent({ maxActiveShoppers: 2 });
        const line = fans(5);
        await joinAll(event, line);
        await tick(event);
        await db.query('UPDATE tickets SET order_id = gen_random_uuid() WHERE event_id = $1', [
          event.eventId,
        ]);
        await releaseShopperSlot(db, event.eventId, line[0] as string, clock.nowMs());
        clock.advance(1_000);
        const outcome = await tick(event);
        expect(outcome).toMatchObject({ kind: 'ticked', admitted: [] });
        expect(outcome.kind === 'ticked' && outcome.status.soldOut).toBe(true);
        const room = waitingRoom(ctx);
        for (const fan of [line[0], line[4]] as string[]) {
          expect((await room.view(event, fan)).state).toBe('sold_out');
        }
        // Four tickets come back: room for two shoppers at two tickets each, one of whom
        // (line[1], admitted before) is already looking, so one more fan comes in.
        await db.query(
          `UPDATE tickets SET order_id = NULL
            WHERE event_id = $1 AND ticket_no IN (SELECT ticket_no FROM tickets
                                                   WHERE event_id = $1
                                                   ORDER BY ticket_no LIMIT 4)`,
          [event.eventId],
        );
        clock.advance(1_000);
        const resumed = await tick(event);
        // A fenced or skipped tick must fail this, not pass it.
        expect(resumed).toMatchObject({ kind: 'ticked', status: { soldOut: false } });
        expect(await admitted(event)).toHaveLength(3);
      });
    });

    describe('claiming a slot', () => {
      async function refusal(
        event: EventRecord, fan: string, pass: string | undefined,
      ): Promise<string> {
        const error = await assertMayHold(ctx, event, fan, pass).then(() => undefined, (e) => e);
        expect(error).toBeInstanceOf(DomainError);
        return (error as DomainError).message;
      }

      it('watching never claims: an admitted fan who places no hold loses the slot', async () => {
        const event = await queuedEvent({ maxActiveShoppers: 1, passSeconds: 600 });
        const [ghost, next] = fans(2) as [string, string];
        await joinAll(event, [ghost, next]);
        await tick(event);
        const room = waitingRoom(ctx);
        const view = await room.view(event, ghost);
        expect(view.state).toBe('admitted');
        expect(view.claimBy).toBe(new Date(clock.nowMs() + graceSeconds * 1000).toISOString());
        // An open tab polls and streams all the time; none of that is shopping.
        for (let poll = 0; poll < 5; poll += 1) await room.view(event, ghost);
        const { rows } = await db.query<{ claimed_at: Date | null }>(
          'SELECT claimed_at FROM queue_admissions WHERE event_id = $1 AND customer_id = $2',
          [event.eventId, ghost],
        );
        expect(rows[0]?.claimed_at).toBeNull();

        clock.advance(graceSeconds * 1000);
        // Refused at once, before any tick: liveness is computed, never counted down.
        expect(await refusal(event, ghost, view.pass)).toMatch(/claim grace/);
        expect((await room.view(event, ghost)).state).toBe('expired');
        await tick(event);
        expect(await admitted(event)).toEqual([ghost, next]);
      });

      it('the first hold claims the pass; the row, not the token, decides expiry', async () => {
        const event = await queuedEvent({ maxActiveShoppers: 1, passSeconds: 300 });
        const [shopper, next] = fans(2) as [string, string];
        await joinAll(event, [shopper, next]);
        await tick(event);
        const room = waitingRoom(ctx);
        const { pass } = await room.view(event, shopper);
        clock.advance(graceSeconds * 1000 - 1_000);
        await assertMayHold(ctx, event, shopper, pass);
        expect((await room.view(event, shopper)).claimBy).toBeUndefined();
        clock.advance(2 * graceSeconds * 1000);
        await tick(event);
        expect(await admitted(event)).toEqual([shopper]);
        await assertMayHold(ctx, event, shopper, pass);
        // The admission row is cut short (say by an operator): the signed token still
        // names a later expiry, but the row is what counts.
        await db.query(
          'UPDATE queue_admissions SET expires_at = $3 WHERE event_id = $1 AND customer_id = $2',
          [event.eventId, shopper, new Date(clock.nowMs() - 1)],
        );
        expect(await refusal(event, shopper, pass)).toMatch(/expired/);
      });
    });

    describe('sold out', () => {
      it('is not declared while tickets are merely held, nor once holds expire', async () => {
        const event = await queuedEvent({ maxActiveShoppers: 1 });
        await joinAll(event, fans(3));
        await db.query(
          `UPDATE tickets SET hold_id = gen_random_uuid(),
                              hold_expires_at = now() + interval '1 hour'
            WHERE event_id = $1`, [event.eventId],
        );
        const held = await tick(event);
        expect(held).toMatchObject({ kind: 'ticked', status: { soldOut: false } });
        expect(held.kind === 'ticked' ? held.admitted : undefined).toHaveLength(1);
        // Expired holds count as available the moment they expire, with no sweep run.
        await db.query(
          `UPDATE tickets SET hold_expires_at = now() - interval '1 second'
            WHERE event_id = $1`, [event.eventId],
        );
        clock.advance(1_000);
        const lapsed = await tick(event);
        expect(lapsed).toMatchObject({ kind: 'ticked', status: { soldOut: false } });
      });
    });

    describe('the tick', () => {
      it('keeps the full rate when ticks are further apart than the smoothing window', async () => {
        const event = await queuedEvent({ admitPerMinute: 60 });
        await joinAll(event, fans(150));
        const counts: number[] = [];
        for (let round = 0; round < 3; round += 1) {
          if (round > 0) clock.advance(30_000);
          const outcome = await tickLine(db, event, {
            nowMs: clock.nowMs(), token, claimGraceSeconds: graceSeconds, tickMs: 30_000,
          });
          counts.push(outcome.kind === 'ticked' ? outcome.admitted.length : -1);
        }
        expect(counts).toEqual([30, 30, 30]);
        // A long pause releases no more than the 60 s window allows.
        clock.advance(10 * 60_000);
        const resumed = await tickLine(db, event, {
          nowMs: clock.nowMs(), token, claimGraceSeconds: graceSeconds, tickMs: 30_000,
        });
        expect(resumed.kind).toBe('ticked');
        expect(resumed.kind === 'ticked' ? resumed.admitted.length : NaN)
          .toBeLessThanOrEqual(60);
      });

      it('skips lines with nobody waiting and no live pass', async () => {
        const event = await queuedEvent({ passSeconds: 120 });
        const line = fans(2);
        await joinAll(event, line);
        expect(await activeLines(db, clock.nowMs())).toContain(event.eventId);
        await tick(event);
        // Everyone admitted, passes live: the tick still has slots to watch.
        expect(await activeLines(db, clock.nowMs())).toContain(event.eventId);
        for (const fan of line) await releaseShopperSlot(db, event.eventId, fan, clock.nowMs());
        expect(await activeLines(db, clock.nowMs())).not.toContain(event.eventId);
        await joinAll(event, fans(1));
        expect(await activeLines(db, clock.nowMs())).toContain(event.eventId);
      });

      it('a line that fails to publish does not stop the round', async () => {
        const base = createMemoryCoordinator({});
        let failOn = '';
        const coord = new Proxy(base, {
          get(target, prop) {
            if (prop === 'publish') {
              return async (channel: string, message: string): Promise<void> => {
                if (failOn !== '' && channel.includes(failOn)) throw new Error('publish failed');
                await target.publish(channel, message);
              };
            }
            const value: unknown = Reflect.get(target, prop, target);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        }) as Coordinator;
        const node = buildTestContext(db, { clock, coord });
        const [broken, healthy] = [await queuedEvent(), await queuedEvent()];
        await joinAll(broken, fans(2));
        await joinAll(healthy, fans(2));
        failOn = broken.eventId;
        const duty = new AdmissionDuty(node);
        await duty.start();
        try {
          const outcomes = await duty.tickOnce();
          expect(outcomes.get(healthy.eventId)?.kind).toBe('ticked');
          expect(outcomes.has(broken.eventId)).toBe(false);
          // The failed line's tick committed; only its broadcast was lost.
          expect(await admitted(broken)).toHaveLength(2);
        } finally {
          await duty.stop();
        }
      });
    });

    describe('reconciling completed orders', () => {
      it('frees the slot of an order confirmed after admission, not one from before', async () => {
        const event = await queuedEvent({ maxActiveShoppers: 10 });
        const [earlier, later] = [await buildCustomer(ctx), await buildCustomer(ctx)];
        await joinAll(event, [earlier.customerId, later.customerId]);
        await tick(event);
        const confirmedOrder = async (customerId: string, confirmedAt: Date): Promise<void> => {
          const holdId = randomUUID();
          await db.query(
            `INSERT INTO holds (hold_id, event_id, customer_id, state, quantity, adjacent,
                                currency, total_cents, expires_at, claim_expires_at, ended_at)
             VALUES ($1, $2, $3, 'purchased', 1, true, 'EUR', 0, $4, $4, $4)`,
            [holdId, event.eventId, customerId, confirmedAt],
          );
          await db.query(
            `INSERT INTO orders (order_id, event_id, customer_id, hold_id, status, quantity,
                                 total_cents, currency, confirmed_at)
             VALUES (gen_random_uuid(), $1, $2, $3, 'confirmed', 1, 0, 'EUR', $4)`,
            [event.eventId, customerId, holdId, confirmedAt],
          );
        };
        // An order from before this admission (bought while the event had no queue).
        await confirmedOrder(earlier.customerId, new Date(clock.nowMs() - 3_600_000));
        await confirmedOrder(later.customerId, new Date(clock.nowMs() + 1_000));
        clock.advance(2_000);
        await tick(event);
        const { rows } = await db.query<{ customer_id: string; released: boolean }>(
          `SELECT customer_id, released_at IS NOT NULL AS released FROM queue_admissions
            WHERE event_id = $1`, [event.eventId],
        );
        const released = new Map(rows.map((row) => [row.customer_id, row.released]));
        expect(released.get(earlier.customerId)).toBe(false);
        expect(released.get(later.customerId)).toBe(true);
      });
    });

    describe('one clock: the database', () => {
      it('a node with a slow clock admits on the same clock the gate and release use', async () => {
        const env = { QUEUE_CLAIM_GRACE_SECONDS: String(graceSeconds) };
        const coord = createMemoryCoordinator({});
        // Two nodes of one cluster; one is ten minutes slow (and not a test clock, so it
        // goes by the database clock).
        const slow = buildTestContext(db, {
          clock: { nowMs: () => Date.now() - 600_000 }, coord, env,
        });
        const honest = buildTestContext(db, { coord, env });
        const details = await buildEvent(honest, {
          onSaleAt: new Date(Date.now() - 3_600_000).toISOString(),
          queue: { enabled: true, admitPerMinute: 6_000, maxActiveShoppers: 10, passSeconds: 600 },
        });
        const event = await loadEvent(db, details.eventId);
        const [fan] = fans(1) as [string];
        await waitingRoom(honest).join(event, fan);
        const duty = new AdmissionDuty(slow);
        await duty.start();
        try {
          expect((await duty.tickOnce()).get(event.eventId)?.kind).toBe('ticked');
        } finally {
          await duty.stop();
        }
        const { rows } = await db.query<{ lag: number }>(
          `SELECT extract(epoch FROM now() - admitted_at)::float8 AS lag FROM queue_admissions
            WHERE event_id = $1`, [event.eventId],
        );
        expect(Math.abs(rows[0]?.lag ?? Infinity)).toBeLessThan(60);
        // The honest node hears the tick over pub/sub (its polls answer from memory).
        let view = await waitingRoom(honest).view(event, fan);
        while (view.state === 'waiting') {
          await new Promise((resolve) => setTimeout(resolve, 10));
          view = await waitingRoom(honest).view(event, fan);
        }
        expect(view.state).toBe('admitted');
        await assertMayHold(honest, event, fan, view.pass);
        expect((await queueStats(db, event.eventId)).activeShoppers).toBe(1);
        // As the booking engine calls it: no clock given, the database's is used.
        expect(await releaseShopperSlot(db, event.eventId, fan)).toBe(true);
        expect((await queueStats(db, event.eventId)).activeShoppers).toBe(0);
      });
    });

    describe('why numbers are handed out under a lock', () => {
      it('a counter outside the transaction leaves holes that stall the line', async () => {
        const event = await queuedEvent();
        const [slow, fast] = fans(2) as [string, string];
        await db.query('INSERT INTO queue_state (event_id) VALUES ($1)', [event.eventId]);
        await db.query(
          'INSERT INTO queue_numbering (event_id, last_number, drawn_at) VALUES ($1, 2, now())',
          [event.eventId],
        );
        const insert = (id: string, n: number) => db.query(
          `INSERT INTO queue_entries (event_id, customer_id, number, pre_queue, joined_at)
           VALUES ($1, $2, $3, false, now())`, [event.eventId, id, n]);
        // Number 1 was taken first (INCR) but its INSERT commits after number 2's.
        await insert(fast, 2);
        await tick(event);
        // Admission never passes over a missing number (the draw relies on that), so the
        // line waits at the hole; a number taken and never written would stall it for good.
        expect(await admitted(event)).toEqual([]);
        await insert(slow, 1);
        clock.advance(60_000);
        await tick(event);
        expect(await admitted(event)).toEqual([slow, fast]);
        // joinLine numbers inside the locked transaction, so numbers are dense and commit
        // in number order (see the concurrent and Kendall tests): no hole ever stalls it.
      });
    });

    describe('fencing', () => {
      it('refuses a tick from a deposed leader once a newer one has ticked', async () => {
        const event = await queuedEvent({ admitPerMinute: 60 });
        await joinAll(event, fans(20));
        await tick(event, 1_000);
        clock.advance(1_000);
        await tick(event, 2_000);
        clock.advance(1_000);
        const stale = await tick(event, 1_000);
        expect(stale).toEqual({ kind: 'fenced', newerToken: 2_000 });
        const { rows } = await db.query<{ leader_token: number; n: number }>(
          `SELECT leader_token, count(*)::int AS n FROM queue_admissions
            WHERE event_id = $1 GROUP BY leader_token ORDER BY leader_token`, [event.eventId],
        );
        expect(rows.map((r) => Number(r.leader_token))).toEqual([1_000, 2_000]);
        token = 3_000;
      });
    });

    describe('stats', () => {
      it('reports the line for the organizer dashboard', async () => {
        const event = await queuedEvent({ maxActiveShoppers: 2 }, 1_000);
        await joinAll(event, fans(3));
        clock.advance(1_000);
        await joinAll(event, fans(2));
        await tick(event);
        expect(await queueStats(db, event.eventId, clock.nowMs())).toMatchObject({
          joined: 5, preQueue: 0, waiting: 3, servedUpTo: 2, admitted: 2, activeShoppers: 2,
          soldOut: false,
        });
      });
    });

    describe('the hold gate', () => {
      it('accepts only the customer\'s own, live, current pass', async () => {
        const event = await queuedEvent({ passSeconds: 120 });
        const other = await queuedEvent({ passSeconds: 120 });
        const [alice, bob] = fans(2) as [string, string];
        await joinAll(event, [alice, bob]);
        await joinAll(other, [alice]);
        await tick(event);
        await tick(other);
        const room = waitingRoom(ctx);
        const pass = (await room.view(event, alice)).pass as string;
        const otherPass = (await room.view(other, alice)).pass as string;
        expect(pass).toMatch(/^qp1\./);

        const refused = async (p: string | undefined, who = alice, on = event) => {
          const error = await assertMayHold(ctx, on, who, p).then(() => undefined, (e) => e);
          expect(error).toBeInstanceOf(DomainError);
          expect((error as DomainError).code).toBe('queue_pass_required');
          return (error as DomainError).message;
        };
        await assertMayHold(ctx, event, alice, pass);
        expect(await refused(undefined)).toMatch(/join it/);
        expect(await refused(pass, bob)).toMatch(/another customer/);
        expect(await refused(otherPass)).toMatch(/another event/);
        const [v, body, mac] = pass.split('.') as [string, string, string];
        const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as { x: number };
        const extended = Buffer.from(JSON.stringify({ ...claims, x: claims.x + 3_600_000 }))
          .toString('base64url');
        expect(await refused(`${v}.${extended}.${mac}`)).toMatch(/signature/);
        const none = Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url');
        expect(await refused(`${none}.${body}.`)).toMatch(/malformed/);
        expect(await refused(`${v}.${body}.`)).toMatch(/malformed/);

        await releaseShopperSlot(db, event.eventId, alice, clock.nowMs());
        expect(await refused(pass)).toMatch(/used up/);
        clock.advance(121_000);
        expect(await refused(otherPass, alice, other)).toMatch(/expired/);
        const bobPass = (await room.view(event, bob)).pass;
        expect(bobPass).toBeUndefined();
      });

      it('lets anyone hold on an event without a queue', async () => {
        const details = await buildEvent(ctx);
        await assertMayHold(ctx, await loadEvent(db, details.eventId), randomUUID(), undefined);
      });
    });
  });
}
