/**
 * The slot release on a cadence (release.ts, migration 071): the admission duty runs the
 * tick's release pass every few seconds, not on every tick. On both databases, with a manual
 * clock (the duty ticks by hand): two idle ghosts fill a line's two slots; on every tick the
 * live shoppers stay within maxActiveShoppers, the ghosts are freed no later than one period
 * (plus a tick) after their idle time ran out, and the fans behind them are admitted on that
 * same tick. Control: a release that never comes again leaves the line stalled behind them.
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
import { claimAdmission, queueStats } from './admission.js';
import { AdmissionDuty } from './duty.js';
import { joinLine } from './line.js';
import { ReleaseCadence, releaseEveryMs } from './release.js';

describe('the release cadence', () => {
  it('is due on a line\'s first tick, then once a period, and at once if the clock went back',
    () => {
      const cadence = new ReleaseCadence();
      expect(cadence.due('e', 10_000, 5_000)).toBe(true);
      cadence.released('e', 10_000);
      expect(cadence.due('e', 14_999, 5_000)).toBe(false);
      expect(cadence.due('e', 15_000, 5_000)).toBe(true);
      expect(cadence.due('e', 9_000, 5_000)).toBe(true);
      expect(cadence.due('other', 10_001, 5_000)).toBe(true);
    });

  it('is the limit, or a sixth of the idle time when that is shorter', () => {
    expect(releaseEveryMs(30)).toBe(limits.queueSlotReleaseEveryMs);
    expect(releaseEveryMs(6)).toBe(1_000);
  });
});

const backends = await testBackends();
const idleSeconds = 30;
const cap = 2;

for (const backend of backends) {
  describe.skipIf(!backend.available)(`the slot release on a cadence (${backend.name})`, () => {
    let db: Db;
    beforeAll(async () => {
      db = await backend.open();
    });
    afterAll(async () => db?.close());

    /**
     * Two fans admitted at second 0 claim their pass at second 1 and then do nothing; two
     * more wait behind them. The duty ticks once a second up to `seconds`. Returns, per
     * tick, the live shoppers, and the seconds at which the ghosts were freed and the first
     * fan behind them admitted (null: never).
     */
    async function ghosts(seconds: number, releaseEvery?: number) {
      const clock = new ManualClock(Date.now());
      const ctx = buildTestContext(db, { clock, env: {
        QUEUE_TICK_MS: '1000', QUEUE_LEADER_TTL_MS: '120000',
        QUEUE_IDLE_SECONDS: String(idleSeconds),
      } });
      const leases = createMemoryCoordinator({});
      ctx.leases = leases;
      const details = await buildEvent(ctx, {
        venue: await buildVenue(ctx, { standing: 100 }),
        queue: { enabled: true, admitPerMinute: 600, maxActiveShoppers: cap, passSeconds: 600 },
      });
      const event = await loadEvent(db, details.eventId);
      const fans = await insertCustomerRows(db, 4);
      await joinLine(db, event, fans, undefined);
      const duty = new AdmissionDuty(ctx, {
        holderId: `release-${backend.name}`,
        ...(releaseEvery === undefined ? {} : { releaseEveryMs: releaseEvery }),
      });
      await duty.elector.start();
      const live: number[] = [];
      let freedAt: number | null = null;
      let nextAdmittedAt: number | null = null;
      try {
        for (let second = 0; second <= seconds; second++) {
          if (second > 0) clock.advance(1_000);
          const outcome = (await duty.tickOnce()).get(event.eventId);
          expect(outcome?.kind).toBe('ticked');
          if (second === 0) {
            expect(outcome?.kind === 'ticked' && outcome.admitted.map((f) => f.customerId))
              .toEqual(fans.slice(0, cap));
          }
          if (second === 1) {
            for (const fan of fans.slice(0, cap)) {
              expect((await claimAdmission(db, event.eventId, fan, clock.nowMs()))?.live)
                .toBe(true);
            }
          }
          live.push((await queueStats(db, event.eventId, clock.nowMs())).activeShoppers);
          const { rows } = await db.query<{ customer_id: string; release_reason: string }>(
            'SELECT customer_id, release_reason FROM queue_admissions WHERE event_id = $1',
            [event.eventId]);
          const ghostsFreed = rows.filter((r) => fans.slice(0, cap).includes(r.customer_id)
            && r.release_reason === 'idle').length;
          if (freedAt === null && ghostsFreed === cap) freedAt = second;
          if (nextAdmittedAt === null && rows.some((r) => r.customer_id === fans[cap])) {
            nextAdmittedAt = second;
          }
        }
      } finally {
        await duty.elector.stop();
        await leases.close();
      }
      return { live, freedAt, nextAdmittedAt };
    }

    it('frees idle ghosts within a period of their idle time, never above the cap', async () => {
      const { live, freedAt, nextAdmittedAt } = await ghosts(45);
      expect(Math.max(...live)).toBeLessThanOrEqual(cap);
      // Claimed at second 1: idle from second 31; releases at 0, 5, …, so freed at 35.
      const idleFrom = 1 + idleSeconds;
      expect(freedAt).not.toBeNull();
      expect(freedAt as number).toBeGreaterThanOrEqual(idleFrom);
      expect(freedAt as number)
        .toBeLessThanOrEqual(idleFrom + releaseEveryMs(idleSeconds) / 1_000 + 1);
      // The ticks between releases kept the ghosts live and admitted nobody past the cap.
      expect(freedAt).toBe(35);
      expect(live.slice(idleFrom, 35)).toEqual(Array(35 - idleFrom).fill(cap));
      expect(nextAdmittedAt).toBe(freedAt);
    });

    it('control: a release that never comes again leaves the line stalled behind them',
      async () => {
        const { live, freedAt, nextAdmittedAt } = await ghosts(45, Number.POSITIVE_INFINITY);
        expect(Math.max(...live)).toBeLessThanOrEqual(cap);
        expect(freedAt).toBeNull();
        expect(nextAdmittedAt).toBeNull();
      });
  });
}
