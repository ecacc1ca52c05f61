/**
 * Leases through a Redis outage, on real PostgreSQL and a real Redis this test starts on a
 * free loopback port and kills (SIGKILL), then starts again empty. Two nodes run the
 * admission duty and the booking-maintenance duty (sweeps, reconciliation) with the
 * Redis-then-PostgreSQL lease store: admissions and sweeps go on while Redis is dead, the
 * duties come back to Redis when it returns, and fencing tokens only grow across both
 * switches. A partial partition (one node reaches Redis, the other does not) gives two
 * token holders at once; the fencing refuses the stale one, and the control shows the stale
 * leader admitting when the check is removed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadEvent } from '../catalog/events.js';
import type { AppContext } from '../context.js';
import { startBookingWorkers } from '../orders/workers.js';
import { tickLine } from '../queue/admission.js';
import { AdmissionDuty } from '../queue/duty.js';
import { waitingRoom } from '../queue/room.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { buildCustomer, buildEvent, buildHold, buildVenue } from '../testing/factories.js';
import { testDatabaseUrl } from '../testing/services.js';
import { FailoverLeases } from './pgLease.js';
import { createRedisCoordinator } from './redis.js';
import type { Coordinator } from './types.js';

const postgres = (await testBackends()).find((b) => b.name === 'postgres');
const enabled = postgres?.available === true;
const quiet = { warn: () => undefined };

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`not in time: ${what}`);
    await sleep(25);
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A throwaway redis-server on a loopback port: no persistence, so a restart is empty. */
class RedisServer {
  private child: ChildProcess | undefined;
  constructor(readonly port: number) {}

  async start(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1',
      '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const probe = createRedisCoordinator({ url: this.url, name: 'probe', logger: quiet,
      commandTimeoutMs: 300 });
    try {
      await until(() => probe.ping().then(() => true, () => false), 10_000, 'redis up');
    } finally {
      await probe.close();
    }
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
}

describe.skipIf(!enabled)('leases through a Redis outage (PostgreSQL + a Redis we kill)', () => {
  let db: Db;
  let databaseUrl: string;
  const coords: Coordinator[] = [];
  const leaseStores: FailoverLeases[] = [];

  beforeAll(async () => {
    db = await (postgres as NonNullable<typeof postgres>).open();
    const { rows } = await db.query<{ name: string }>('SELECT current_database() AS name');
    const url = new URL(testDatabaseUrl);
    url.pathname = `/${rows[0]?.name}`;
    databaseUrl = url.toString();
  });
  afterAll(async () => {
    for (const store of leaseStores) {
      for (const name of ['queue-admission', 'booking-maintenance']) await store.forget(name);
    }
    await Promise.all(coords.map((c) => c.close().catch(() => undefined)));
    await db?.close();
  });

  /** A node: its own Redis coordinator (at `redisUrl`) and its own lease store. */
  const prefix = `t:lease:${randomUUID().slice(0, 8)}:`;

  function node(redisUrl: string): AppContext & { leases: FailoverLeases } {
    const coord = createRedisCoordinator({ url: redisUrl, prefix,
      name: 'lease-test', logger: quiet, commandTimeoutMs: 300 });
    coords.push(coord);
    const leases = new FailoverLeases({ coord, db, databaseUrl, logger: quiet });
    leaseStores.push(leases);
    const ctx = buildTestContext(db, {
      coord, env: { QUEUE_TICK_MS: '100', QUEUE_LEADER_TTL_MS: '900', HOLD_SWEEP_MS: '100' },
    });
    return Object.assign(ctx, { leases });
  }

  async function queuedEvent(ctx: AppContext, fans: number) {
    const details = await buildEvent(ctx, {
      venue: await buildVenue(ctx, { standing: 1_000 }),
      queue: { enabled: true, admitPerMinute: 900, maxActiveShoppers: 10_000 },
    });
    const event = await loadEvent(db, details.eventId);
    const ids = Array.from({ length: fans }, () => randomUUID());
    for (const fan of ids) await waitingRoom(ctx).join(event, fan);
    return { event, ids };
  }

  async function admissions(eventId: string) {
    const { rows } = await db.query<{ customer_id: string; number: string; token: string }>(
      `SELECT customer_id, number, leader_token AS token FROM queue_admissions
        WHERE event_id = $1 ORDER BY number`, [eventId]);
    return rows.map((r) => ({ customerId: r.customer_id, number: Number(r.number),
      token: Number(r.token) }));
  }

  it('admits and sweeps while Redis is down, returns to Redis, tokens only grow',
    async () => {
      const redis = new RedisServer(await freePort());
      await redis.start();
      try {
        const [a, b] = [node(redis.url), node(redis.url)];
        const { event, ids } = await queuedEvent(a, 300);
        const duties = [new AdmissionDuty(a, { holderId: 'a' }),
          new AdmissionDuty(b, { holderId: 'b' })];
        const gained: number[] = [];
        for (const duty of duties) {
          duty.elector.onChange((c) => {
            if (c.type === 'gained') gained.push(c.token);
          });
        }
        const workers = [startBookingWorkers(a, { sweepEveryMs: 100 }),
          startBookingWorkers(b, { sweepEveryMs: 100 })];
        const store = (name: string) => [a, b].map((n) => n.leases.storeOf(name))
          .filter((s) => s !== undefined);
        try {
          for (const duty of duties) await duty.start();
          await until(async () => (await admissions(event.eventId)).length >= 5, 15_000,
            'admitting through Redis');
          expect(store('queue-admission')).toEqual(['redis']);

          await redis.kill();
          const atKill = (await admissions(event.eventId)).length;
          await until(async () => store('queue-admission').includes('postgres')
            && (await admissions(event.eventId)).length >= atKill + 10, 20_000,
          'admitting on a PostgreSQL lease');
          // Sweeps (and reconciliation: the same duty) go on too: an expired hold is swept.
          await until(async () => store('booking-maintenance').includes('postgres'), 20_000,
            'booking maintenance on a PostgreSQL lease');
          const fan = await buildCustomer(a);
          const plain = await buildEvent(a);
          const hold = await buildHold(a, plain.eventId, fan.customerId,
            { zone: 'seats', quantity: 1 });
          await db.query(`UPDATE holds SET expires_at = now() - interval '1 second',
                                 claim_expires_at = now() - interval '1 second'
                           WHERE hold_id = $1`, [hold.holdId]);
          await until(async () => (await db.query<{ state: string }>(
            'SELECT state FROM holds WHERE hold_id = $1', [hold.holdId])).rows[0]?.state
            === 'expired', 10_000, 'expired hold swept while Redis is down');

          await redis.start(); // empty: its fence counter is gone
          const atReturn = (await admissions(event.eventId)).length;
          await until(async () => store('queue-admission').includes('redis')
            && !store('queue-admission').includes('postgres')
            && (await admissions(event.eventId)).length >= atReturn + 10, 20_000,
          'back on Redis');
          await until(async () => (await admissions(event.eventId)).length === ids.length,
            60_000, 'line served');
        } finally {
          for (const duty of duties) await duty.stop();
          for (const worker of workers) await worker.stop();
        }
        const rows = await admissions(event.eventId);
        expect(rows.map((r) => r.number)).toEqual(ids.map((_, i) => i + 1));
        expect(rows.map((r) => r.customerId)).toEqual(ids);
        // Fencing tokens only grow, through Redis → PostgreSQL → (empty) Redis.
        expect(gained.length).toBeGreaterThanOrEqual(3);
        expect(gained).toEqual([...gained].sort((x, y) => x - y));
        expect(new Set(gained).size).toBe(gained.length);
        const tokens = rows.map((r) => r.token);
        expect(tokens).toEqual([...tokens].sort((x, y) => x - y));
      } finally {
        await redis.kill();
      }
    });

  it('control: with leases in Redis only, admissions stop while Redis is down', async () => {
    const redis = new RedisServer(await freePort());
    await redis.start();
    try {
      const a = node(redis.url);
      const redisOnly = Object.assign(a, { leases: undefined });
      const { event } = await queuedEvent(a, 100);
      const duty = new AdmissionDuty(redisOnly, { holderId: 'redis-only' });
      try {
        await duty.start();
        await until(async () => (await admissions(event.eventId)).length >= 5, 15_000,
          'admitting through Redis');
        await redis.kill();
        await until(async () => !duty.elector.isLeader(), 5_000, 'leadership lapses');
        // A round that began while the lease was held may still commit its tick.
        await duty.roundSettled();

        const frozenAt = (await admissions(event.eventId)).length;
        await sleep(3 * 900); // three lease TTLs: a fallback would have taken over by now
        expect(duty.elector.isLeader()).toBe(false);
        expect((await admissions(event.eventId)).length).toBe(frozenAt);
      } finally {
        await duty.stop();
      }
    } finally {
      await redis.kill();
    }
  });

  /**
   * A partial partition: A reaches Redis and holds the lease there; B cannot reach Redis
   * and takes the PostgreSQL lease with a newer token. Both hold a token at once; B ticks,
   * then A ticks with its older token.
   */
  async function splitBrain(unfenced: boolean) {
    const redis = new RedisServer(await freePort());
    await redis.start();
    try {
      const a = node(redis.url);
      const b = node(`redis://127.0.0.1:${await freePort()}`); // nothing listens there
      const { event } = await queuedEvent(a, 40);
      const tokenA = await a.leases.acquireLease('queue-admission', 'a', 5_000) as number;
      const tokenB = await b.leases.acquireLease('queue-admission', 'b', 5_000) as number;
      expect(a.leases.storeOf('queue-admission')).toBe('redis');
      expect(b.leases.storeOf('queue-admission')).toBe('postgres');
      expect(tokenB).toBeGreaterThan(tokenA);
      // Admissions are paced by elapsed time: tick until a tick admits (or is refused).
      const tick = async (token: number) => {
        for (;;) {
          const outcome = await tickLine(db, event, { token, claimGraceSeconds: 120,
            tickMs: 100, ...(unfenced ? { unfenced: true as const } : {}) });
          if (outcome.kind !== 'ticked' || outcome.admitted.length > 0) return outcome;
          await sleep(20);
        }
      };
      const first = await tick(tokenA);
      const byB = await tick(tokenB);
      const stale = await tick(tokenA);
      // A notices at its next renewal and steps down; it cannot take the lease back while
      // B holds the PostgreSQL lock.
      const renewed = await a.leases.renewLease('queue-admission', 'a', tokenA, 5_000);
      const retaken = await a.leases.acquireLease('queue-admission', 'a', 5_000);
      await b.leases.forget('queue-admission');
      return { first, byB, stale, renewed, retaken, rows: await admissions(event.eventId),
        tokenA, tokenB };
    } finally {
      await redis.kill();
    }
  }

  it('two token holders at once: the stale leader is fenced, whichever store issued it',
    async () => {
      const { first, byB, stale, renewed, retaken, rows, tokenA, tokenB } =
        await splitBrain(false);
      expect(first.kind).toBe('ticked');
      expect(byB.kind).toBe('ticked');
      expect(stale).toEqual({ kind: 'fenced', newerToken: tokenB });
      const afterB = rows.filter((r) => r.token === tokenB).length;
      expect(afterB).toBeGreaterThan(0);
      // Nothing admitted under A's token after B's first admission.
      const firstB = rows.findIndex((r) => r.token === tokenB);
      expect(rows.slice(firstB).every((r) => r.token === tokenB)).toBe(true);
      expect(renewed).toBe(false);
      expect(retaken).toBeNull();
      expect(tokenA).toBeLessThan(tokenB);
    });

  it('control: without the fencing check, the stale leader admits after the new one',
    async () => {
      const { stale, rows, tokenA, tokenB } = await splitBrain(true);
      expect(stale.kind).toBe('ticked');
      const firstB = rows.findIndex((r) => r.token === tokenB);
      expect(firstB).toBeGreaterThan(0);
      expect(rows.slice(firstB).some((r) => r.token === tokenA)).toBe(true);
    });
});
