/**
 * Store-paced admission end to end (storePace.ts): a store node's signal, published through
 * coordination, slows the admission leader's ticks; its absence (deleted, or lapsed by its
 * TTL) lets them recover to the organizer's rate. Admission order never changes. On both
 * databases and both coordinators, with a manual clock (the duty ticks by hand, no sleeps).
 * And a refusing store keeps idle shoppers' slots (a control without it frees them).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadEvent } from '../catalog/events.js';
import { limits } from '../config/limits.js';
import { ManualClock } from '../core/clock.js';
import { createMemoryCoordinator } from '../coord/memory.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { buildEvent, buildVenue, insertCustomerRows } from '../testing/factories.js';
import { coordinatorsFor, type CoordKind } from '../testing/coords.js';
import { claimAdmission, queueStats, releaseShopperSlot, tickLine } from './admission.js';
import { AdmissionDuty, storePaceKnobs } from './duty.js';
import { joinLine } from './line.js';
import { publishStoreSignal, storeSignalKey } from './storePace.js';

const backends = await testBackends();
const { redisUp, coordinator } = await coordinatorsFor('pace');

for (const backend of backends) {
  for (const kind of ['memory', 'redis'] as CoordKind[]) {
    const enabled = backend.available && (kind === 'memory' || redisUp);
    describe.skipIf(!enabled)(`store-paced admission (${backend.name}, ${kind})`, () => {
      let db: Db;
      beforeAll(async () => {
        db = await backend.open();
      });
      afterAll(async () => db?.close());


      /** 400 fans (2,050 tickets) at 10 a second, and a leader that ticks when told. */
      async function setup(maxActiveShoppers = 10_000) {
        const clock = new ManualClock(Date.now());
        const coord = coordinator(kind, clock);
        // A long lease on the wall clock: the manual clock jumps whole seconds between
        // renewals, and an embedded database busy in this process can delay a renewal.
        const ctx = buildTestContext(db, { clock, coord,
          env: { QUEUE_TICK_MS: '1000', QUEUE_LEADER_TTL_MS: '120000' } });
        const leases = createMemoryCoordinator({});
        ctx.leases = leases;
        // Room for every fan's tickets: the inventory rule must not bind here.
        const details = await buildEvent(ctx, {
          venue: await buildVenue(ctx, { standing: 2_000 }),
          queue: { enabled: true, admitPerMinute: 600, maxActiveShoppers, passSeconds: 600 },
        });
        const event = await loadEvent(db, details.eventId);
        const fans = await insertCustomerRows(db, 400);
        await joinLine(db, event, fans, undefined);
        const duty = new AdmissionDuty(ctx, { holderId: `pace-${kind}` });
        // Elected, but never timer-driven: a round of its own between two of the test's
        // would take their credit.
        await duty.elector.start();
        /** Admitted on each of `n` ticks a second apart. */
        const ticks = async (n: number): Promise<number[]> => {
          const admitted: number[] = [];
          for (let i = 0; i < n; i++) {
            clock.advance(1_000);
            const outcome = (await duty.tickOnce()).get(event.eventId);
            expect(outcome?.kind).toBe('ticked');
            admitted.push(outcome?.kind === 'ticked' ? outcome.admitted.length : -1);
          }
          return admitted;
        };
        const inOrder = async (): Promise<boolean> => {
          const { rows } = await db.query<{ customer_id: string; number: string }>(
            `SELECT customer_id, number FROM queue_admissions WHERE event_id = $1
              ORDER BY number`, [event.eventId]);
          return rows.every((row, i) => Number(row.number) === i + 1
            && row.customer_id === fans[i]);
        };
        /** Frees the slots of the admitted fans `from` up to `to` (line order), as orders do. */
        const finish = async (from: number, to: number): Promise<void> => {
          for (const fan of fans.slice(from, to)) {
            await releaseShopperSlot(db, event.eventId, fan, clock.nowMs());
          }
        };
        return {
          clock, coord, event, ticks, inOrder, finish,
          live: async () => (await queueStats(db, event.eventId, clock.nowMs())).activeShoppers,
          stats: async () => (await queueStats(db, event.eventId, clock.nowMs())).storePace,
          async close() {
            await duty.elector.stop();
            await coord.close();
            await leases.close();
          },
        };
      }

      it('a busy store slows the ticks to the floor; without its signal they recover to the '
        + 'organizer\'s rate, never above it, and the line keeps its order', async () => {
        const line = await setup();
        try {
          expect(await line.ticks(3)).toEqual([10, 10, 10]);
          expect(await line.stats())
            .toEqual({ factor: 1, storeWaitMs: null, refusing: false, liveCap: 10_000 });
          // A store node reports an 8 s hold queue (long TTL: Redis's is real time).
          await publishStoreSignal(line.coord, line.event.eventId,
            { waitMs: 8_000, refusing: false }, 60_000);
          const slowed = await line.ticks(8);
          expect(slowed[0]).toBeLessThanOrEqual(5);
          // At the floor (10 %): one fan a second.
          expect(slowed.slice(-4)).toEqual([1, 1, 1, 1]);
          const paced = await line.stats();
          expect(paced).toMatchObject({ storeWaitMs: 8_000, refusing: false, liveCap: 1_000 });
          expect(paced?.factor).toBeCloseTo(0.1);
          // The store is healthy again: its signal is gone.
          await line.coord.del(storeSignalKey(line.coord, line.event.eventId));
          const recovering = await line.ticks(12);
          expect(recovering[0]).toBeLessThanOrEqual(3);
          expect(recovering.slice(-3)).toEqual([10, 10, 10]);
          expect(Math.max(...recovering)).toBeLessThanOrEqual(10);
          expect(await line.stats())
            .toEqual({ factor: 1, storeWaitMs: null, refusing: false, liveCap: 10_000 });
          expect(await line.inOrder()).toBe(true);
        } finally {
          await line.close();
        }
      });

      it('a busy store caps the live shoppers: slots that free are not refilled until the '
        + 'live count is under the paced cap, which recovers with the factor', async () => {
        // 40 slots, 10 admissions a tick: the cap's floor is one tick's admissions (10).
        const line = await setup(40);
        try {
          expect(await line.ticks(4)).toEqual([10, 10, 10, 10]);
          expect(await line.live()).toBe(40);
          await publishStoreSignal(line.coord, line.event.eventId,
            { waitMs: 8_000, refusing: false }, 60_000);
          expect(await line.ticks(8)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
          expect(await line.stats()).toMatchObject({ liveCap: 10 });
          // 25 shoppers finish: 15 live, still over the paced cap. The rate alone (one fan a
          // second at the floor) would admit on every one of these ticks.
          await line.finish(0, 25);
          expect(await line.ticks(5)).toEqual([0, 0, 0, 0, 0]);
          expect(await line.live()).toBe(15);
          // Ten more finish: 5 live, under the cap; the line moves at the paced rate, up to
          // the cap and no further.
          await line.finish(25, 35);
          const underCap = await line.ticks(8);
          expect(underCap.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
          expect(await line.live()).toBeLessThanOrEqual(10);
          // Healthy again: the cap climbs back to 40 with the factor and the slots refill.
          await line.coord.del(storeSignalKey(line.coord, line.event.eventId));
          await line.ticks(14);
          expect(await line.stats())
            .toEqual({ factor: 1, storeWaitMs: null, refusing: false, liveCap: 40 });
          expect(await line.live()).toBe(40);
          expect(await line.inOrder()).toBe(true);
        } finally {
          await line.close();
        }
      });

      it.skipIf(kind !== 'memory')('a signal the store stopped refreshing lapses by its TTL '
        + 'and counts as healthy', async () => {
        const line = await setup();
        try {
          await publishStoreSignal(line.coord, line.event.eventId,
            { waitMs: 8_000, refusing: true }, limits.storeSignalTtlMs);
          const slowed = await line.ticks(4);
          expect(slowed[3]).toBeLessThanOrEqual(1);
          expect((await line.stats())?.refusing).toBe(true);
          // Past the TTL: nothing to read, the factor climbs back.
          const after = await line.ticks(14);
          expect(after.slice(-2)).toEqual([10, 10]);
          expect(await line.stats())
            .toEqual({ factor: 1, storeWaitMs: null, refusing: false, liveCap: 10_000 });
          expect(await line.inOrder()).toBe(true);
        } finally {
          await line.close();
        }
      });
    });
  }
}

/**
 * The idle release while a store refuses holds: a shopper who claimed the pass and holds
 * nothing would be freed as idle; while the store refuses their holds as busy, that is the
 * store's fault, not theirs, so the tick keeps the slot. Control: the same tick without the
 * protection frees it.
 */
for (const backend of backends) {
  describe.skipIf(!backend.available)(`idle shoppers and a refusing store (${backend.name})`,
    () => {
      let db: Db;
      beforeAll(async () => {
        db = await backend.open();
      });
      afterAll(async () => db?.close());

      async function idleShopper(unprotectedSlots: boolean): Promise<string | null> {
        const clock = new ManualClock(Date.now());
        const ctx = buildTestContext(db, { clock });
        const details = await buildEvent(ctx, {
          queue: { enabled: true, admitPerMinute: 600, maxActiveShoppers: 5, passSeconds: 600 },
        });
        const event = await loadEvent(db, details.eventId);
        const [fan] = await insertCustomerRows(db, 1);
        await joinLine(db, event, [fan as string], undefined);
        const refusing = { waitMs: 9_000, refusing: true };
        const tick = async (signal: typeof refusing | null) => await tickLine(db, event, {
          token: 1, claimGraceSeconds: 60, idleSeconds: 30, nowMs: clock.nowMs(),
          store: { signal, knobs: storePaceKnobs(ctx) },
          ...(unprotectedSlots ? { unprotectedSlots: true as const } : {}),
        });
        expect((await tick(null)).kind).toBe('ticked');
        await claimAdmission(db, event.eventId, fan as string, clock.nowMs());
        // Forty seconds of busy refusals: past the idle time, well within the pass.
        for (let i = 0; i < 4; i++) {
          clock.advance(10_000);
          await tick(refusing);
        }
        const { rows } = await db.query<{ release_reason: string | null }>(
          `SELECT release_reason FROM queue_admissions
            WHERE event_id = $1 AND customer_id = $2`, [event.eventId, fan]);
        return rows[0]?.release_reason ?? null;
      }

      it('control: without the protection, the shopper is freed as idle', async () => {
        expect(await idleShopper(true)).toBe('idle');
      });

      it('the shopper keeps the slot while the store refuses', async () => {
        expect(await idleShopper(false)).toBeNull();
      });
    });
}
