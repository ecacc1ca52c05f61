/**
 * The waiting room as a cluster: nodes sharing one PostgreSQL and one Redis. The admission
 * leader dies and another node takes over within seconds, admitting nobody twice and
 * nobody out of order; Redis is flushed mid-queue and the line resumes where it was.
 * Every Redis key lives under a random prefix, deleted afterwards (never FLUSHALL).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadEvent, type EventRecord } from '../catalog/events.js';
import type { QueueSettings } from '../catalog/schemas.js';
import type { AppContext } from '../context.js';
import { createRedisCoordinator, type Coordinator } from '../coord/index.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { buildEvent, buildVenue } from '../testing/factories.js';
import { buildApp } from '../http/app.js';
import type { App } from '../http/types.js';
import { deleteRedisPrefix, serviceAvailable, testRedisUrl } from '../testing/services.js';
import { releaseShopperSlot, tickLine } from './admission.js';
import { AdmissionDuty } from './duty.js';
import { waitingRoom } from './room.js';

const postgres = (await testBackends()).find((b) => b.name === 'postgres');
const redisUp = await serviceAvailable('Redis', testRedisUrl);
const enabled = postgres?.available === true && redisUp;
const prefix = `test:queue:${randomUUID().slice(0, 8)}:`;

/** Deletes every key under this file's prefix: a Redis flush, scoped to this test. */
const flushPrefix = (): Promise<number> => deleteRedisPrefix(prefix);

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
    // A large floor: these tests are about leaders and caches, not about running out.
    const details = await buildEvent(ctx, {
      venue: await buildVenue(ctx, { standing: 10_000 }), queue: { enabled: true, ...queue },
    });
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

  /** Reads one SSE stream until it ends; resolves with every `queue` message's state. */
  async function streamStates(url: string, token: string): Promise<{
    opened: Promise<void>; states: Promise<string[]>;
  }> {
    let markOpen: () => void = () => undefined;
    const opened = new Promise<void>((resolve) => { markOpen = resolve; });
    const states = (async () => {
      const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(200);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let text = '';
      const seen: string[] = [];
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return seen;
        text += decoder.decode(value, { stream: true });
        let end = text.indexOf('\n\n');
        while (end >= 0) {
          const data = /^data: (.*)$/m.exec(text.slice(0, end))?.[1];
          if (data !== undefined) {
            seen.push((JSON.parse(data) as { state: string }).state);
            markOpen();
          }
          text = text.slice(end + 2);
          end = text.indexOf('\n\n');
        }
      }
    })();
    return { opened, states };
  }

  it('sold out reaches every waiting fan\'s stream on both nodes within seconds', async () => {
    const [a, b] = [node('sold-a'), node('sold-b')];
    const apps: App[] = [];
    const urls: string[] = [];
    for (const ctx of [a, b]) {
      const app = await buildApp(ctx);
      await app.listen({ port: 0, host: '127.0.0.1' });
      const address = app.server.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      apps.push(app);
      urls.push(`http://127.0.0.1:${address.port}`);
    }
    const details = await buildEvent(a, {
      venue: await buildVenue(a, { rows: 1, seatsPerRow: 2, standing: 2 }),
      queue: { enabled: true, admitPerMinute: 6_000, maxActiveShoppers: 1 },
    });
    const event = await loadEvent(db, details.eventId);
    const fans = Array.from({ length: 12 }, () => randomUUID());
    for (const fan of fans) await waitingRoom(a).join(event, fan);
    const duty = new AdmissionDuty(a, { holderId: 'sold-out' });
    await duty.start();
    try {
      await until(async () => (await admissions(event.eventId)).length === 1, 5_000);
      // Eleven fans wait, each watching on one node or the other.
      const streams = await Promise.all(fans.slice(1).map((fan, i) => streamStates(
        `${urls[i % 2]}/api/v1/events/${event.eventId}/queue/stream`, a.tokens.issue(fan),
      )));
      await Promise.all(streams.map((s) => s.opened));
      const soldAt = Date.now();
      await db.query('UPDATE tickets SET order_id = gen_random_uuid() WHERE event_id = $1',
        [event.eventId]);
      const finals = await Promise.all(streams.map(async (s) => {
        const states = await s.states;
        return { last: states.at(-1), ms: Date.now() - soldAt };
      }));
      expect(finals.map((f) => f.last)).toEqual(fans.slice(1).map(() => 'sold_out'));
      expect(Math.max(...finals.map((f) => f.ms))).toBeLessThan(5_000);
    } finally {
      await duty.stop();
      await Promise.all(apps.map((app) => app.close()));
    }
  });
});
