/**
 * Invariant 6 with two leaders ticking at once: two nodes (own contexts and Redis
 * coordinators) share one PostgreSQL and one Redis. Node A leads and admits, then stalls
 * past its lease: node B is elected with a newer fencing token, and A wakes up still
 * ticking with its old token, in parallel with B, until the line is served. The fencing
 * keeps admissions exactly right: every tick of the deposed leader is refused, everyone
 * is admitted once, in line order, and no admission after the handover is A's.
 *
 * The control runs the same race with the fencing check removed (TickOptions.unfenced, a
 * test-only seam): the deposed leader then admits fans after the new leader took over, so
 * the test sees what the fencing prevents. Tick intervals are recorded to prove that the
 * two leaders' ticks truly overlapped. Redis keys live under a random prefix, deleted
 * afterwards (never FLUSHALL).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadEvent } from '../catalog/events.js';
import type { AppContext } from '../context.js';
import { createRedisCoordinator, type Coordinator } from '../coord/index.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { buildEvent, buildVenue } from '../testing/factories.js';
import { serviceAvailable, testRedisUrl } from '../testing/services.js';
import { tickLine, type TickOutcome } from './admission.js';
import { AdmissionDuty } from './duty.js';
import { waitingRoom } from './room.js';

const postgres = (await testBackends()).find((b) => b.name === 'postgres');
const redisUp = await serviceAvailable('Redis', testRedisUrl);
const enabled = postgres?.available === true && redisUp;
const prefix = `test:leaders:${randomUUID().slice(0, 8)}:`;

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`not in time: ${what}`);
    await sleep(25);
  }
}

interface Interval { start: number; end: number }

describe.skipIf(!enabled)('two admission leaders ticking at once (PostgreSQL + Redis)', () => {
  let db: Db;
  const coords: Coordinator[] = [];

  beforeAll(async () => {
    db = await (postgres as NonNullable<typeof postgres>).open();
  });
  afterAll(async () => {
    await Promise.all(coords.map((c) => c.close().catch(() => undefined)));
    const admin = new Redis(testRedisUrl);
    try {
      let cursor = '0';
      do {
        const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
        if (keys.length > 0) await admin.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    } finally {
      admin.disconnect();
    }
    await db?.close();
  });

  function node(name: string): AppContext {
    const coord = createRedisCoordinator({
      url: testRedisUrl, prefix, name: `test-leaders-${name}`, logger: { warn: () => undefined },
    });
    coords.push(coord);
    return buildTestContext(db, {
      coord, env: { QUEUE_TICK_MS: '100', QUEUE_LEADER_TTL_MS: '1000' },
    });
  }

  async function admissions(eventId: string) {
    const { rows } = await db.query<{ customer_id: string; number: string; token: string }>(
      `SELECT customer_id, number, leader_token AS token FROM queue_admissions
        WHERE event_id = $1 ORDER BY number`, [eventId]);
    return rows.map((r) => ({ customerId: r.customer_id, number: Number(r.number),
      token: Number(r.token) }));
  }

  /**
   * A leads and admits some fans, hands over to B (as if stalled past its lease), then
   * both tick at once until all 80 fans are admitted: B through its duty, A as a zombie
   * with its old token (two ticks in flight at a time).
   */
  async function twoLeaders(unfenced: boolean) {
    const [a, b] = [node(`a-${unfenced}`), node(`b-${unfenced}`)];
    const details = await buildEvent(a, {
      venue: await buildVenue(a, { standing: 1_000 }),
      queue: { enabled: true, admitPerMinute: 1_200, maxActiveShoppers: 10_000 },
    });
    const event = await loadEvent(db, details.eventId);
    const fans = Array.from({ length: 80 }, () => randomUUID());
    for (const [i, fan] of fans.entries()) await waitingRoom(i % 2 ? a : b).join(event, fan);

    const dutyA = new AdmissionDuty(a, { holderId: `a-${unfenced}` });
    const dutyB = new AdmissionDuty(b, { holderId: `b-${unfenced}` });
    await dutyA.start();
    await until(async () => dutyA.elector.isLeader(), 5_000, 'A leads');
    const tokenA = dutyA.elector.fencingToken() as number;
    await dutyB.start();
    await until(async () => (await admissions(event.eventId)).length >= 10, 10_000,
      'A admits');
    // A stalls past its lease: B is elected with a newer token and ticks the line once.
    await dutyA.stop();
    await until(async () => dutyB.elector.isLeader(), 5_000, 'B leads');
    const tokenB = dutyB.elector.fencingToken() as number;
    expect(tokenB).toBeGreaterThan(tokenA);
    await until(async () => {
      const { rows } = await db.query<{ token: string }>(
        'SELECT leader_token AS token FROM queue_state WHERE event_id = $1', [event.eventId]);
      return Number(rows[0]?.token) === tokenB;
    }, 5_000, 'B ticks');
    const handedOverAt = (await admissions(event.eventId)).length;

    const zombie: { outcome: TickOutcome; span: Interval }[] = [];
    const leader: Interval[] = [];
    const done = async () => (await admissions(event.eventId)).length === fans.length;
    const deadline = performance.now() + 30_000;
    const loop = async (step: () => Promise<void>) => {
      while (!(await done())) {
        if (performance.now() > deadline) throw new Error('line not served in time');
        await step();
      }
    };
    try {
      await Promise.all([
        ...[1, 2].map(() => loop(async () => {
          const start = performance.now();
          const outcome = await tickLine(db, event, {
            token: tokenA, claimGraceSeconds: 120, tickMs: 100,
            ...(unfenced ? { unfenced: true as const } : {}),
          });
          zombie.push({ outcome, span: { start, end: performance.now() } });
          await sleep(20);
        })),
        loop(async () => {
          const start = performance.now();
          await dutyB.tickOnce();
          leader.push({ start, end: performance.now() });
          await sleep(20);
        }),
      ]);
    } finally {
      await dutyB.stop();
    }
    const overlapping = zombie.filter((z) =>
      leader.some((l) => z.span.start < l.end && l.start < z.span.end)).length;
    return { fans, tokenA, tokenB, zombie, overlapping, handedOverAt,
      rows: await admissions(event.eventId) };
  }

  it('the deposed leader is refused at every tick; everyone admitted once, in order',
    async () => {
      const { fans, tokenA, tokenB, zombie, overlapping, handedOverAt, rows } =
        await twoLeaders(false);
      // The race is real: the two leaders' ticks were in flight at the same time.
      expect(overlapping).toBeGreaterThan(0);
      expect(zombie.length).toBeGreaterThan(0);
      expect(zombie.map((z) => z.outcome.kind)).toEqual(zombie.map(() => 'fenced'));
      expect(rows.map((r) => r.number)).toEqual(fans.map((_, i) => i + 1));
      expect(rows.map((r) => r.customerId)).toEqual(fans);
      // A admitted up to the handover, B everything after it: tokens A…A B…B.
      const firstB = rows.findIndex((r) => r.token === tokenB);
      expect(firstB).toBeGreaterThan(0);
      expect(firstB).toBeLessThanOrEqual(handedOverAt);
      expect(rows.map((r) => r.token)).toEqual(rows.map((_, i) => (i < firstB ? tokenA : tokenB)));
    });

  it('control: without the fencing check, the deposed leader admits after the handover',
    async () => {
      const { fans, tokenA, zombie, overlapping, handedOverAt, rows } = await twoLeaders(true);
      expect(overlapping).toBeGreaterThan(0);
      const zombieAdmitted = zombie.flatMap((z) =>
        (z.outcome.kind === 'ticked' ? z.outcome.admitted : []));
      expect(zombieAdmitted.length).toBeGreaterThan(0);
      const firstB = rows.findIndex((r) => r.token !== tokenA);
      expect(rows.slice(firstB).some((r) => r.token === tokenA)).toBe(true);
      expect(firstB).toBeLessThanOrEqual(handedOverAt);
      // The line's row lock and unique admissions still keep each fan to one admission.
      expect(rows.map((r) => r.number)).toEqual(fans.map((_, i) => i + 1));
    });
});
