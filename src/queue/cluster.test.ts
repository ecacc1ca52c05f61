/**
 * The waiting room as a cluster: nodes sharing one PostgreSQL and one Redis. The admission
 * leader dies and another node takes over within seconds, admitting nobody twice and
 * nobody out of order; Redis is flushed mid-queue and the line resumes where it was.
 * Every Redis key lives under a random prefix, deleted afterwards (never FLUSHALL).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadEvent, type EventRecord } from '../catalog/events.js';
import type { QueueSettings } from '../catalog/schemas.js';
import type { AppContext } from '../context.js';
import { createRedisCoordinator, type Coordinator } from '../coord/index.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { buildEvent } from '../testing/factories.js';
import { serviceAvailable, testRedisUrl } from '../testing/services.js';
import { releaseShopperSlot, tickLine } from './admission.js';
import { AdmissionDuty } from './duty.js';
import { waitingRoom } from './room.js';

const postgres = (await testBackends()).find((b) => b.name === 'postgres');
const redisUp = await serviceAvailable('Redis', testRedisUrl);
const enabled = postgres?.available === true && redisUp;
const prefix = `test:queue:${randomUUID().slice(0, 8)}:`;

/** Deletes every key under this file's prefix: a Redis flush, scoped to this test. */
async function flushPrefix(): Promise<number> {
  const admin = new Redis(testRedisUrl);
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
      if (keys.length > 0) deleted += await admin.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    admin.disconnect();
  }
  return deleted;
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(25);
  }
}

describe.skipIf(!enabled)('waiting room across nodes (PostgreSQL + Redis)', () => {
  let db: Db;
  const coords: Coordinator[] = [];

  beforeAll(async () => {
    db = await (postgres as NonNullable<typeof postgres>).open();
  });
  afterAll(async () => {
    await Promise.all(coords.map((c) => c.close().catch(() => undefined)));
    await flushPrefix();
    await db?.close();
  });

  function node(name: string, env: Record<string, string> = {}): AppContext {
    const coord = createRedisCoordinator({
      url: testRedisUrl, prefix, name: `test-queue-${name}`,
      logger: { warn: () => undefined },
    });
    coords.push(coord);
    return buildTestContext(db, {
      coord, env: { QUEUE_TICK_MS: '100', QUEUE_LEADER_TTL_MS: '1000', ...env },
    });
  }

  async function queuedEvent(ctx: AppContext, queue: Partial<QueueSettings>): Promise<EventRecord> {
    const details = await buildEvent(ctx, { queue: { enabled: true, ...queue } });
    return await loadEvent(db, details.eventId);
  }

  async function admissions(eventId: string) {
    const { rows } = await db.query<{ customer_id: string; number: number;
      leader_token: number; admitted_at: Date }>(
      `SELECT customer_id, number, leader_token, admitted_at FROM queue_admissions
        WHERE event_id = $1 ORDER BY admitted_at, number`, [eventId],
    );
    return rows.map((r) => ({ ...r, number: Number(r.number), token: Number(r.leader_token) }));
  }

  it('the admission leader dies; another node takes over in seconds, no one twice', async () => {
    const [a, b] = [node('a'), node('b')];
    const event = await queuedEvent(a, { admitPerMinute: 1_200, maxActiveShoppers: 10_000 });
    const fans = Array.from({ length: 120 }, () => randomUUID());
    for (const [i, fan] of fans.entries()) await waitingRoom(i % 2 ? a : b).join(event, fan);

    const dutyA = new AdmissionDuty(a, { holderId: 'node-a' });
    const dutyB = new AdmissionDuty(b, { holderId: 'node-b' });
    await dutyA.start();
    await dutyB.start();
    try {
      const [leader, follower] = dutyA.elector.isLeader() ? [dutyA, dutyB] : [dutyB, dutyA];
      const leaderCoord = leader === dutyA ? a.coord : b.coord;
      expect(follower.elector.isLeader()).toBe(false);
      await until(async () => (await admissions(event.eventId)).length >= 20, 10_000);

      // The leader's node loses Redis for good (as if killed): it cannot renew, and must
      // step down by itself; its tick timer keeps firing but no longer ticks.
      const killedAt = Date.now();
      await leaderCoord.close();
      await until(async () => follower.elector.isLeader(), 5_000);
      const takeoverMs = Date.now() - killedAt;
      expect(takeoverMs).toBeLessThan(3_000);
      expect(leader.elector.isLeader()).toBe(false);

      await until(async () => (await admissions(event.eventId)).length === fans.length, 20_000);
      const rows = await admissions(event.eventId);
      // Nobody twice, nobody skipped, and in number order across the handover.
      expect(new Set(rows.map((r) => r.customer_id)).size).toBe(fans.length);
      expect(rows.map((r) => r.number)).toEqual(fans.map((_, i) => i + 1));
      const tokens = [...new Set(rows.map((r) => r.token))];
      expect(tokens).toHaveLength(2);
      const firstToken = Math.min(...tokens);
      const lastOld = Math.max(...rows.filter((r) => r.token === firstToken).map((r) => r.number));
      const firstNew = Math.min(...rows.filter((r) => r.token !== firstToken).map((r) => r.number));
      expect(firstNew).toBe(lastOld + 1);
    } finally {
      await dutyA.stop();
      await dutyB.stop();
    }
  });

  it('a Redis flush mid-queue admits nobody twice and skips nobody', async () => {
    const ctx = node('flush');
    const room = waitingRoom(ctx);
    const event = await queuedEvent(ctx, { admitPerMinute: 60_000, maxActiveShoppers: 10 });
    const early = Array.from({ length: 40 }, () => randomUUID());
    for (const fan of early) await room.join(event, fan);
    const tick = async (token: number) => {
      const outcome = await tickLine(db, event, {
        nowMs: ctx.clock.nowMs(), token, claimGraceSeconds: 120,
      });
      if (outcome.kind === 'ticked') await room.publish(outcome.status);
      return outcome;
    };
    await tick(1);
    expect(await room.view(event, early[12] as string))
      .toMatchObject({ state: 'waiting', number: 13, position: 3, servedUpTo: 10 });

    expect(await flushPrefix()).toBeGreaterThan(0);

    // After the flush: answers come from PostgreSQL, and the cache refills.
    expect(await room.view(event, early[12] as string))
      .toMatchObject({ state: 'waiting', number: 13, position: 3, servedUpTo: 10 });
    expect((await room.join(event, early[0] as string)).created).toBe(false);
    expect((await room.view(event, early[0] as string)).state).toBe('admitted');
    const late = Array.from({ length: 20 }, () => randomUUID());
    const numbers = [];
    for (const fan of late) numbers.push((await room.join(event, fan)).view.number);
    expect(numbers).toEqual(late.map((_, i) => 41 + i));

    for (const fan of early.slice(0, 10)) {
      await releaseShopperSlot(db, event.eventId, fan, ctx.clock.nowMs());
    }
    await tick(1);
    await flushPrefix();
    for (const fan of early.slice(10, 20)) {
      await releaseShopperSlot(db, event.eventId, fan, ctx.clock.nowMs());
    }
    await tick(1);
    const rows = await admissions(event.eventId);
    expect(rows.map((r) => r.number)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(rows.map((r) => r.customer_id)).toEqual(early.slice(0, 30));
    expect(await room.view(event, late[0] as string))
      .toMatchObject({ state: 'waiting', position: 11, servedUpTo: 30 });
  });
});
