/**
 * One contract, two coordinators: every test here runs against the in-process coordinator
 * and against Redis, so the embedded default and the cluster shape cannot drift apart.
 * The memory backend moves a fake clock; Redis uses short real TTLs.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';

import { Supervisor } from '../../cluster/procs.js';
import { startRedisCluster } from '../../cluster/redis.js';
import { servicesRequired, serviceAvailable, testRedisUrl } from '../testing/services.js';
import {
  createMemoryCoordinator,
  createMemoryHub,
  createRedisCoordinator,
  LeaderElector,
  type Coordinator,
  type CoordLogger,
  type LeadershipChange,
} from './index.js';

const redisUp = await serviceAvailable('Redis', testRedisUrl);
const runId = randomUUID().slice(0, 8);
// Every key this file writes lives under this prefix, so parallel files never collide.
const redisPrefix = `test:coord:${runId}:`;

/** Collects warnings instead of printing them, so tests can assert on them. */
function quietLogger(): CoordLogger & { messages: string[] } {
  const messages: string[] = [];
  return { messages, warn: (_obj, msg) => void messages.push(msg ?? '') };
}

/** One shared store and the nodes on it. */
interface Env {
  /** A coordinator on the shared store; all nodes of one Env see the same data. */
  node(logger?: CoordLogger): Coordinator;
  /** Lets time pass for TTLs and buckets: moves the fake clock or really sleeps. */
  elapse(ms: number): Promise<void>;
  close(): Promise<void>;
}

interface Backend {
  name: 'memory' | 'redis' | 'redis cluster';
  enabled: boolean;
  /** `realTime` gives a memory store on the wall clock, for timer-driven code. */
  env(realTime?: boolean): Env;
}

function trackNodes(make: (logger: CoordLogger) => Coordinator): Omit<Env, 'elapse'> {
  const nodes: Coordinator[] = [];
  return {
    node: (logger = quietLogger()) => {
      const coord = make(logger);
      nodes.push(coord);
      return coord;
    },
    close: async () => {
      await Promise.all(nodes.map((coord) => coord.close()));
    },
  };
}

const memoryBackend: Backend = {
  name: 'memory',
  enabled: true,
  env(realTime = false) {
    let nowMs = 1_700_000_000_000;
    const hub = createMemoryHub(realTime ? Date.now : () => nowMs);
    const tracked = trackNodes((logger) => createMemoryCoordinator({ hub, logger }));
    return {
      ...tracked,
      elapse: async (ms) => {
        if (realTime) await sleep(ms);
        else nowMs += ms;
      },
    };
  },
};

let redisNodes = 0;
const redisBackend: Backend = {
  name: 'redis',
  enabled: redisUp,
  env() {
    const tracked = trackNodes((logger) => {
      redisNodes += 1;
      const name = `test-coord-${runId}-${redisNodes}`;
      return createRedisCoordinator({ url: testRedisUrl, prefix: redisPrefix, logger, name });
    });
    return { ...tracked, elapse: async (ms) => void (await sleep(ms)) };
  },
};

/**
 * A real three-primary Redis Cluster started for this file (stock redis-server on free
 * high ports), so every multi-key script is checked against slot rules, not assumed.
 */
async function startClusterForTests(): Promise<{ ports: number[]; stop(): Promise<void> }
  | undefined> {
  try {
    execFileSync('redis-server', ['--version']);
  } catch {
    if (servicesRequired) throw new Error('redis-server is not installed: no Redis Cluster');
    console.warn('[tests] redis-server not installed: skipping the Redis Cluster contract');
    return undefined;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'stampede-rcluster-'));
  const sup = new Supervisor(dir);
  const stop = async (): Promise<void> => {
    await sup.stopAll();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const { ports } = await startRedisCluster(sup, dir);
    return { ports, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

const redisCluster = await startClusterForTests();
afterAll(async () => {
  await redisCluster?.stop();
});

const clusterBackend: Backend = {
  name: 'redis cluster',
  enabled: redisCluster !== undefined,
  env() {
    const nodes = (redisCluster?.ports ?? []).map((port) => ({ host: '127.0.0.1', port }));
    const tracked = trackNodes((logger) => {
      redisNodes += 1;
      const name = `test-coord-${runId}-c${redisNodes}`;
      return createRedisCoordinator({
        target: { kind: 'cluster', nodes }, prefix: redisPrefix, logger, name,
      });
    });
    return { ...tracked, elapse: async (ms) => void (await sleep(ms)) };
  },
};

let unique = 0;
/** A name no other test in this file uses. */
function uniq(label: string): string {
  unique += 1;
  return `${label}-${unique}`;
}

/** Polls until `check` holds, failing after `timeoutMs` of real time. */
async function eventually(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

/** Subscribes and records every message, in order. */
async function record(coord: Coordinator, channel: string) {
  const messages: string[] = [];
  const unsubscribe = await coord.subscribe(channel, (m) => void messages.push(m));
  return { messages, unsubscribe };
}

async function withEnv(backend: Backend, body: (env: Env) => Promise<void>, realTime = false) {
  const env = backend.env(realTime);
  try {
    await body(env);
  } finally {
    await env.close();
  }
}

afterAll(async () => {
  if (!redisUp) return;
  const admin = new Redis(testRedisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 500);
      if (keys.length > 0) await admin.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    admin.disconnect();
  }
});

for (const backend of [memoryBackend, redisBackend, clusterBackend]) {
  describe.skipIf(!backend.enabled)(`coordinator contract: ${backend.name}`, () => {
    const run = (body: (env: Env) => Promise<void>, realTime = false) => () =>
      withEnv(backend, body, realTime);

    describe('counters and values', () => {
      it('incr is atomic: 500 parallel increments from two nodes give exactly 1..500', run(
        async (env) => {
          const [a, b] = [env.node(), env.node()];
          const key = a.keys.global(uniq('counter'));
          const results = await Promise.all(
            Array.from({ length: 500 }, (_, i) => (i % 2 === 0 ? a : b).incr(key)),
          );
          expect([...results].sort((x, y) => x - y)).toEqual(
            Array.from({ length: 500 }, (_, i) => i + 1),
          );
          expect(await b.get(key)).toBe('500');
          expect(await a.incr(key, -20)).toBe(480);
        },
      ));

      it('incr ttl is set on creation only and then expires', run(async (env) => {
        const coord = env.node();
        const key = coord.keys.event('e1', uniq('window'));
        expect(await coord.incr(key, 1, 300)).toBe(1);
        await env.elapse(200);
        expect(await coord.incr(key, 1, 300)).toBe(2);
        await env.elapse(150);
        expect(await coord.get(key)).toBeNull();
        expect(await coord.incr(key, 5, 300)).toBe(5);
      }));

      it('set onlyIfAbsent writes once', run(async (env) => {
        const coord = env.node();
        const key = coord.keys.global(uniq('once'));
        expect(await coord.set(key, 'first', { onlyIfAbsent: true })).toBe(true);
        expect(await coord.set(key, 'second', { onlyIfAbsent: true })).toBe(false);
        expect(await coord.get(key)).toBe('first');
        expect(await coord.set(key, 'third')).toBe(true);
        expect(await coord.get(key)).toBe('third');
        await coord.del(key);
        expect(await coord.get(key)).toBeNull();
        expect(await coord.set(key, 'fourth', { onlyIfAbsent: true })).toBe(true);
      }));

      it('set ttl expires the value', run(async (env) => {
        const coord = env.node();
        const key = coord.keys.global(uniq('ttl'));
        await coord.set(key, 'v', { ttlMs: 300 });
        await env.elapse(150);
        expect(await coord.get(key)).toBe('v');
        await env.elapse(200);
        expect(await coord.get(key)).toBeNull();
        expect(await coord.set(key, 'again', { ttlMs: 300, onlyIfAbsent: true })).toBe(true);
      }));

      it('rejects names outside its prefix and non-integer steps', run(async (env) => {
        const coord = env.node();
        await expect(coord.get('raw-key')).rejects.toThrow(/outside prefix/);
        await expect(coord.publish('raw-channel', 'x')).rejects.toThrow(/outside prefix/);
        await expect(coord.incr(coord.keys.global('n'), 1.5)).rejects.toThrow(/integer/);
      }));
    });

    describe('hashes', () => {
      it('sets many fields at once, reads one, counts them, and is visible to all nodes', run(
        async (env) => {
          const [a, b] = [env.node(), env.node()];
          const key = a.keys.event('e9', uniq('members'));
          expect(await b.hashGet(key, 'c1')).toBeNull();
          expect(await b.hashLength(key)).toBe(0);
          await a.hashSet(key, { c1: '1', c2: '2' });
          await b.hashSet(key, { c2: '20', c3: 'p' });
          await a.hashSet(key, {}); // nothing to write is not an error
          expect(await a.hashGet(key, 'c2')).toBe('20');
          expect(await b.hashGet(key, 'c3')).toBe('p');
          expect(await a.hashLength(key)).toBe(3);
          await a.del(key);
          expect(await b.hashGet(key, 'c1')).toBeNull();
        },
      ));

      it('hashSetAbsent writes only fields the hash lacks; control: hashSet replaces', run(
        async (env) => {
          const [a, b] = [env.node(), env.node()];
          const key = a.keys.event('e9', uniq('members'));
          await a.hashSetAbsent(key, { c1: '1', c2: '2' }, 1_000);
          // A newer value written by another node before a late write of the old one lands.
          await b.hashSet(key, { c2: 'l2' });
          await a.hashSetAbsent(key, { c2: '2', c3: '3' }, 1_000);
          await a.hashSetAbsent(key, {}); // nothing to write is not an error
          expect(await b.hashGet(key, 'c1')).toBe('1');
          expect(await b.hashGet(key, 'c2')).toBe('l2');
          expect(await b.hashGet(key, 'c3')).toBe('3');
          // Control: the same late write with hashSet replaces the newer value.
          await a.hashSet(key, { c2: '2' });
          expect(await b.hashGet(key, 'c2')).toBe('2');
          await env.elapse(1_100);
          expect(await a.hashLength(key)).toBe(0);
          const text = a.keys.global(uniq('s'));
          await a.set(text, 'v');
          await expect(a.hashSetAbsent(text, { f: 'v' }, 1_000)).rejects.toThrow(/WRONGTYPE/);
        },
      ));

      it('a ttl expires the whole hash and later writes renew it', run(async (env) => {
        const coord = env.node();
        const key = coord.keys.event('e9', uniq('cache'));
        await coord.hashSet(key, { a: '1' }, 300);
        await env.elapse(200);
        await coord.hashSet(key, { b: '2' }, 300);
        await env.elapse(200);
        expect(await coord.hashGet(key, 'a')).toBe('1');
        await env.elapse(150);
        expect(await coord.hashGet(key, 'b')).toBeNull();
        expect(await coord.hashLength(key)).toBe(0);
      }));

      it('refuses to mix hash and string commands on one key', run(async (env) => {
        const coord = env.node();
        const hash = coord.keys.global(uniq('h'));
        const text = coord.keys.global(uniq('s'));
        await coord.hashSet(hash, { f: 'v' });
        await coord.set(text, 'v');
        await expect(coord.get(hash)).rejects.toThrow(/WRONGTYPE/);
        await expect(coord.hashGet(text, 'f')).rejects.toThrow(/WRONGTYPE/);
        await expect(coord.hashSet(text, { f: 'v' }, 1_000)).rejects.toThrow(/WRONGTYPE/);
        expect(await coord.hashGet(hash, 'f')).toBe('v');
      }));
    });

    describe('setMax', () => {
      it('keeps the largest live report, not the last; a smaller write neither replaces nor '
        + 'extends it; once it expires the next write stands', run(async (env) => {
        const [a, b] = [env.node(), env.node()];
        const key = a.keys.event('e7', uniq('max'));
        expect(await a.setMax(key, 6_000, 'a6000', 300)).toBe(true);
        expect(await b.setMax(key, 2_000, 'b2000', 300)).toBe(false);
        expect(await b.hashGet(key, 'value')).toBe('a6000');
        await env.elapse(200);
        // A smaller report does not keep the larger alive past its own TTL.
        expect(await b.setMax(key, 2_000, 'b2000', 300)).toBe(false);
        await env.elapse(150);
        expect(await a.hashGet(key, 'value')).toBeNull();
        expect(await b.setMax(key, 2_000, 'b2000', 300)).toBe(true);
        // An equal or larger report replaces it and renews the TTL.
        expect(await a.setMax(key, 2_000, 'a2000', 300)).toBe(true);
        expect(await a.hashGet(key, 'value')).toBe('a2000');
        await env.elapse(200);
        expect(await b.setMax(key, 9_000, 'b9000', 300)).toBe(true);
        await env.elapse(200);
        expect(await a.hashGet(key, 'value')).toBe('b9000');
        expect(await a.hashGet(key, 'score')).toBe('9000');
        await expect(a.setMax(key, 1.5, 'x', 300)).rejects.toThrow(/integer/);
      }));

      it('is atomic: 200 parallel reports from two nodes leave the largest; a read-then-write '
        + 'loses it', run(async (env) => {
        const [a, b] = [env.node(), env.node()];
        // The largest first, so that "the last writer wins" cannot pass for "the largest".
        const scores = [5_000, ...Array.from({ length: 199 }, (_, i) => i * 7)];
        const key = a.keys.event('e7', uniq('race'));
        await Promise.all(scores.map((score, i) =>
          (i % 2 === 0 ? a : b).setMax(key, score, `v${score}`, 10_000)));
        expect(await a.hashGet(key, 'value')).toBe('v5000');
        // The control: the same comparison as a read and a write of their own races.
        const naive = a.keys.event('e7', uniq('naive'));
        await Promise.all(scores.map(async (score, i) => {
          const node = i % 2 === 0 ? a : b;
          const current = await node.hashGet(naive, 'score');
          if (current !== null && Number(current) > score) return;
          await node.hashSet(naive, { score: String(score), value: `v${score}` }, 10_000);
        }));
        expect(await a.hashGet(naive, 'value')).not.toBe('v5000');
      }));
    });

    describe('pub/sub', () => {
      it('delivers in order and stops after unsubscribe', run(async (env) => {
        const coord = env.node();
        const channel = coord.keys.event('e1', uniq('live'));
        const sentinel = coord.keys.global(uniq('sentinel'));
        const sub = await record(coord, channel);
        const marks = await record(coord, sentinel);
        await coord.publish(channel, 'one');
        await coord.publish(channel, 'two');
        await eventually(() => sub.messages.length === 2);
        expect(sub.messages).toEqual(['one', 'two']);

        await sub.unsubscribe();
        await sub.unsubscribe(); // idempotent
        await coord.publish(channel, 'late');
        await coord.publish(sentinel, 'done');
        // Same connection, same order: once the sentinel is in, 'late' would have been too.
        await eventually(() => marks.messages.length === 1);
        expect(sub.messages).toEqual(['one', 'two']);
      }));

      it('fans out across nodes sharing one store, once per subscriber', run(async (env) => {
        const [a, b] = [env.node(), env.node()];
        const channel = a.keys.event('e2', uniq('seats'));
        const onA = await record(a, channel);
        const onB = await record(b, channel);
        const onB2 = await record(b, channel);
        await a.publish(channel, 'from-a');
        await b.publish(channel, 'from-b');
        await eventually(() => [onA, onB, onB2].every((s) => s.messages.length === 2));
        await sleep(30);
        // Order across publishers is not part of the contract: on a Redis Cluster the two
        // messages enter through different nodes and cross the cluster bus independently.
        for (const s of [onA, onB, onB2]) {
          expect([...s.messages].sort()).toEqual(['from-a', 'from-b']);
        }

        await onB.unsubscribe();
        await a.publish(channel, 'after');
        await eventually(() => onB2.messages.length === 3 && onA.messages.length === 3);
        expect(onB.messages).toHaveLength(2);
      }));

      it('a throwing handler is logged and does not stop other handlers', run(async (env) => {
        const logger = quietLogger();
        const coord = env.node(logger);
        const channel = coord.keys.global(uniq('boom'));
        await coord.subscribe(channel, () => {
          throw new Error('handler bug');
        });
        const ok = await record(coord, channel);
        await coord.publish(channel, 'm1');
        await coord.publish(channel, 'm2');
        await eventually(() => ok.messages.length === 2);
        expect(logger.messages.filter((m) => m.includes('subscriber threw'))).toHaveLength(2);
      }));
    });

    describe('token bucket', () => {
      // Real-time backends (Redis) refill on the server's clock while the test runs: the
      // rates leave a second or more of slack, so a stalled round trip on a loaded box
      // cannot refill a token between two steps that expect none.
      it('bursts to capacity, then denies with a retry time, then refills', run(async (env) => {
        const coord = env.node();
        const bucket = coord.keys.global(uniq('rl:ip'));
        const limit = { capacity: 10, refillPerSecond: 0.2 };
        for (let i = 0; i < 10; i += 1) {
          const r = await coord.consume(bucket, limit);
          expect(r).toEqual({ allowed: true, remaining: 9 - i, retryAfterMs: 0 });
        }
        const denied = await coord.consume(bucket, limit);
        expect(denied.allowed).toBe(false);
        expect(denied.remaining).toBe(0);
        expect(denied.retryAfterMs).toBeGreaterThan(4_000);
        expect(denied.retryAfterMs).toBeLessThanOrEqual(5_000);
        await expect(coord.consume(bucket, limit, 11)).rejects.toThrow(/exceeds capacity/);

        const one = coord.keys.global(uniq('rl:one'));
        const perSecond = { capacity: 1, refillPerSecond: 1 };
        expect((await coord.consume(one, perSecond)).allowed).toBe(true);
        const wait = await coord.consume(one, perSecond);
        expect(wait.allowed).toBe(false);
        expect(wait.retryAfterMs).toBeGreaterThan(0);
        expect(wait.retryAfterMs).toBeLessThanOrEqual(1_000);
        await env.elapse(wait.retryAfterMs + 20);
        expect((await coord.consume(one, perSecond)).allowed).toBe(true);
        expect((await coord.consume(one, perSecond)).allowed).toBe(false);
      }));

      it('refills up to capacity and no further', run(async (env) => {
        const coord = env.node();
        const bucket = coord.keys.global(uniq('rl:fast'));
        const limit = { capacity: 3, refillPerSecond: 20 };
        expect(await coord.consume(bucket, limit, 3)).toMatchObject({ allowed: true });
        await env.elapse(400); // 8 tokens' worth of refill, capped at 3
        const refilled = await coord.consume(bucket, limit, 3);
        expect(refilled).toMatchObject({ allowed: true, remaining: 0 });
        expect((await coord.consume(bucket, limit)).allowed).toBe(false);
      }));

      it('takes back a refused request\'s token, never above capacity', run(async (env) => {
        const coord = env.node();
        const bucket = coord.keys.global(uniq('rl:back'));
        const limit = { capacity: 2, refillPerSecond: 0.01 };
        expect((await coord.consume(bucket, limit)).allowed).toBe(true);
        expect((await coord.consume(bucket, limit)).allowed).toBe(true);
        expect((await coord.consume(bucket, limit)).allowed).toBe(false);
        await coord.giveBack(bucket, limit);
        expect(await coord.consume(bucket, limit)).toMatchObject({ allowed: true, remaining: 0 });
        // Capped: giving back to a full bucket leaves it at capacity.
        const full = coord.keys.global(uniq('rl:full'));
        await coord.consume(full, limit);
        await coord.giveBack(full, limit);
        await coord.giveBack(full, limit);
        expect(await coord.consume(full, limit)).toMatchObject({ allowed: true, remaining: 1 });
        // An absent bucket is full already: nothing is created.
        const absent = coord.keys.global(uniq('rl:absent'));
        await coord.giveBack(absent, limit);
        expect(await coord.consume(absent, limit)).toMatchObject({ allowed: true, remaining: 1 });
      }));

      it('takes several buckets in one call, each deciding on its own', run(async (env) => {
        const coord = env.node();
        const [a, b] = [coord.keys.global(uniq('rl:each-a')), coord.keys.global(uniq('rl:each-b'))];
        const one = { capacity: 1, refillPerSecond: 0.01 };
        const three = { capacity: 3, refillPerSecond: 0.01 };
        expect(await coord.consumeEach([{ bucket: a, limit: one }, { bucket: b, limit: three }]))
          .toEqual([
            { allowed: true, remaining: 0, retryAfterMs: 0 },
            { allowed: true, remaining: 2, retryAfterMs: 0 },
          ]);
        const [refused, taken] = await coord.consumeEach(
          [{ bucket: a, limit: one }, { bucket: b, limit: three, cost: 2 }]);
        expect(refused?.allowed).toBe(false);
        expect(refused?.retryAfterMs).toBeGreaterThan(0);
        expect(taken).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
        // The same buckets as consume sees them: one state, whichever call took.
        expect((await coord.consume(b, three)).allowed).toBe(false);
        expect(await coord.consumeEach([])).toEqual([]);
        // A bad take is refused before any bucket is taken.
        const c = coord.keys.global(uniq('rl:each-c'));
        const bad = [{ bucket: c, limit: one }, { bucket: a, limit: one, cost: 2 }];
        await expect(coord.consumeEach(bad)).rejects.toThrow(/exceeds capacity/);
        expect(await coord.consume(c, one)).toMatchObject({ allowed: true });
      }));

      // On a cluster each bucket is its own command: there a failing bucket counts as
      // allowing (the cluster case below).
      it.skipIf(backend.name === 'redis cluster')(
        'consumeEach takes no bucket when one key holds another kind of value', run(
          async (env) => {
            const coord = env.node();
            const fine = coord.keys.global(uniq('rl:each-fine'));
            const other = coord.keys.global(uniq('rl:each-other'));
            const one = { capacity: 1, refillPerSecond: 0.01 };
            await coord.incr(other);
            await expect(coord.consumeEach(
              [{ bucket: fine, limit: one }, { bucket: other, limit: one }],
            )).rejects.toThrow(/WRONGTYPE/);
            expect(await coord.consume(fine, one)).toMatchObject({ allowed: true });
          }));

      it('consumeEach is atomic per bucket: 40 parallel calls from two nodes', run(
        async (env) => {
          const [a, b] = [env.node(), env.node()];
          const shared = a.keys.event('e4', uniq('rl:customer'));
          const limit = { capacity: 15, refillPerSecond: 0.01 };
          const results = await Promise.all(Array.from({ length: 40 }, (_, i) =>
            (i % 2 ? a : b).consumeEach([
              { bucket: shared, limit },
              { bucket: a.keys.global(uniq('rl:own')), limit },
            ])));
          expect(results.filter(([r]) => r?.allowed)).toHaveLength(15);
          expect(results.every(([, own]) => own?.allowed)).toBe(true);
        },
      ));

      it('is atomic: 40 parallel takes from two nodes admit exactly capacity', run(
        async (env) => {
          const [a, b] = [env.node(), env.node()];
          const bucket = a.keys.event('e3', uniq('rl:customer'));
          const limit = { capacity: 15, refillPerSecond: 0.01 };
          const results = await Promise.all(
            Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).consume(bucket, limit)),
          );
          expect(results.filter((r) => r.allowed)).toHaveLength(15);
          const other = await a.consume(a.keys.event('e3', uniq('rl:other')), limit);
          expect(other.allowed).toBe(true);
        },
      ));
    });

    describe('leases', () => {
      it('20 holders racing from two nodes: exactly one wins', run(async (env) => {
        const [a, b] = [env.node(), env.node()];
        const name = uniq('admission');
        const tokens = await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).acquireLease(name, `h${i}`, 5_000)),
        );
        const winners = tokens.filter((t) => t !== null);
        expect(winners).toHaveLength(1);
        const winner = tokens.findIndex((t) => t !== null);
        // Re-acquiring your own lease is idempotent: same token, extended.
        expect(await a.acquireLease(name, `h${winner}`, 5_000)).toBe(winners[0]);
      }));

      it('fencing tokens strictly increase across holders', run(async (env) => {
        const coord = env.node();
        const name = uniq('sweeper');
        const t1 = await coord.acquireLease(name, 'a', 300);
        expect(t1).not.toBeNull();
        await coord.releaseLease(name, 'a', t1 ?? 0);
        const t2 = await coord.acquireLease(name, 'b', 300);
        expect(t2).toBeGreaterThan(t1 ?? Infinity);
        await env.elapse(350); // b's lease lapses without release
        const t3 = await coord.acquireLease(name, 'c', 300);
        expect(t3).toBeGreaterThan(t2 ?? Infinity);
      }));

      it('a new token is at least the minimum asked (another store\'s fence)',
        run(async (env) => {
          const coord = env.node();
          const name = uniq('fence');
          const floor = Date.now() * 4; // far above this store's own clock-seeded counter
          const t1 = await coord.acquireLease(name, 'a', 2_000, floor);
          expect(t1).toBe(floor);
          await coord.releaseLease(name, 'a', t1 ?? 0);
          expect(await coord.acquireLease(name, 'b', 2_000)).toBe(floor + 1);
        }));

      it('only the holder with its token can renew or release', run(async (env) => {
        // TTLs of seconds: on a busy machine one round trip can take a good part of 300 ms.
        const coord = env.node();
        const name = uniq('relay');
        const token = await coord.acquireLease(name, 'a', 2_000);
        if (token === null) throw new Error('expected the lease');
        expect(await coord.renewLease(name, 'b', token, 2_000)).toBe(false);
        expect(await coord.renewLease(name, 'a', token - 1, 2_000)).toBe(false);
        await coord.releaseLease(name, 'b', token);
        expect(await coord.acquireLease(name, 'b', 2_000)).toBeNull();

        await env.elapse(1_300);
        expect(await coord.renewLease(name, 'a', token, 2_000)).toBe(true);
        await env.elapse(1_300); // past the first ttl, inside the renewed one
        expect(await coord.acquireLease(name, 'b', 2_000)).toBeNull();
      }));

      it('expiry lets another take over, and the old holder cannot touch it', run(
        async (env) => {
          const [a, b] = [env.node(), env.node()];
          const name = uniq('reconcile');
          const old = await a.acquireLease(name, 'a', 300);
          if (old === null) throw new Error('expected the lease');
          await env.elapse(350);
          const fresh = await b.acquireLease(name, 'b', 300);
          expect(fresh).toBeGreaterThan(old);
          expect(await a.renewLease(name, 'a', old, 300)).toBe(false);
          await a.releaseLease(name, 'a', old);
          expect(await a.acquireLease(name, 'a', 300)).toBeNull();
        },
      ));
    });

    describe('LeaderElector', () => {
      const ttlMs = 600;
      const renewEveryMs = 150;

      /** Starts an elector recording its changes, with the time each happened. */
      function elector(coord: Coordinator, name: string, holderId: string) {
        const logger = quietLogger();
        const e = new LeaderElector(coord, { name, holderId, ttlMs, renewEveryMs, logger });
        const changes: (LeadershipChange & { atMs: number })[] = [];
        e.onChange((c) => void changes.push({ ...c, atMs: performance.now() }));
        return { e, changes, logger };
      }

      /** Samples both electors every few ms; records any moment both claim to lead. */
      function watchOverlap(x: LeaderElector, y: LeaderElector) {
        let overlaps = 0;
        const timer = setInterval(() => {
          if (x.isLeader() && y.isLeader()) overlaps += 1;
        }, 3);
        return { stop: () => clearInterval(timer), overlaps: () => overlaps };
      }

      it('fails over within 2×ttl when the leader loses the store, never overlapping', run(
        async (env) => {
          const [nodeA, nodeB] = [env.node(), env.node()];
          const name = uniq('leader');
          const a = elector(nodeA, name, 'node-a');
          const b = elector(nodeB, name, 'node-b');
          await a.e.start();
          await b.e.start();
          expect(a.e.isLeader()).toBe(true);
          expect(b.e.isLeader()).toBe(false);
          const firstToken = a.e.fencingToken();
          const overlap = watchOverlap(a.e, b.e);
          try {
            await sleep(ttlMs); // several renewals keep a in charge
            expect(a.e.isLeader()).toBe(true);
            expect(b.e.isLeader()).toBe(false);

            const killedAt = performance.now();
            await nodeA.close(); // a's renewals now fail: it must step down by itself
            await eventually(() => b.e.isLeader(), 2 * ttlMs + 200);
            expect(performance.now() - killedAt).toBeLessThan(2 * ttlMs);
            expect(a.e.isLeader()).toBe(false);
          } finally {
            overlap.stop();
          }
          expect(overlap.overlaps()).toBe(0);
          const lost = a.changes.find((c) => c.type === 'lost');
          const gained = b.changes.find((c) => c.type === 'gained');
          expect(lost).toMatchObject({ reason: 'expired' });
          expect(gained?.atMs).toBeGreaterThan(lost?.atMs ?? Infinity);
          expect(b.e.fencingToken()).toBeGreaterThan(firstToken ?? Infinity);
          expect(a.logger.messages.some((m) => m.includes('lease tick failed'))).toBe(true);
          await a.e.stop();
          await b.e.stop();
          expect(b.changes.at(-1)).toMatchObject({ type: 'lost', reason: 'stopped' });
        },
        true,
      ));

      it('stop() releases, so a follower takes over without waiting for expiry', run(
        async (env) => {
          const node = env.node();
          const name = uniq('leader');
          const a = elector(node, name, 'node-a');
          const b = elector(node, name, 'node-b');
          await a.e.start();
          await b.e.start();
          const overlap = watchOverlap(a.e, b.e);
          const stoppedAt = performance.now();
          await a.e.stop();
          await eventually(() => b.e.isLeader(), ttlMs);
          overlap.stop();
          expect(performance.now() - stoppedAt).toBeLessThan(renewEveryMs + 150);
          expect(overlap.overlaps()).toBe(0);
          expect(a.changes.map((c) => c.type)).toEqual(['gained', 'lost']);
          await b.e.stop();
          expect(b.e.isLeader()).toBe(false);
        },
        true,
      ));
    });
  });
}

describe.skipIf(!redisUp)('redis coordinator resilience', () => {
  /** Kills this file's connection with the given CLIENT SETNAME, as a Redis restart would. */
  async function killConnection(connectionName: string): Promise<void> {
    const admin = new Redis(testRedisUrl);
    try {
      const list = String(await admin.call('CLIENT', ['LIST']));
      const line = list.split('\n').find((l) => l.includes(` name=${connectionName} `));
      const id = line?.match(/^id=(\d+) /)?.[1];
      if (!id) throw new Error(`no connection named ${connectionName}`);
      await admin.call('CLIENT', ['KILL', 'ID', id]);
    } finally {
      admin.disconnect();
    }
  }

  function node(name: string) {
    const logger = quietLogger();
    const coord = createRedisCoordinator({ url: testRedisUrl, prefix: redisPrefix, logger, name });
    return { coord, logger };
  }

  it('resubscribes after its subscriber connection is killed', async () => {
    const name = `test-coord-${runId}-resub`;
    const { coord } = node(name);
    try {
      const channel = coord.keys.global(uniq('resub'));
      const sub = await record(coord, channel);
      await coord.publish(channel, 'before');
      await eventually(() => sub.messages.includes('before'));

      await killConnection(`${name}:sub`);
      // Publish until one arrives: messages sent while it reconnects are lost, as in Redis.
      for (let i = 0; !sub.messages.some((m) => m.startsWith('after')); i += 1) {
        if (i > 60) throw new Error('subscription did not come back');
        await coord.publish(channel, `after-${i}`);
        await sleep(50);
      }

      // Exactly one subscription came back, and unsubscribe still works after it.
      const count = sub.messages.length;
      await coord.publish(channel, 'once');
      await coord.publish(channel, 'twice');
      await eventually(() => sub.messages.length >= count + 2);
      await sleep(50);
      expect(sub.messages.slice(count)).toEqual(['once', 'twice']);
      await sub.unsubscribe();
      await coord.publish(channel, 'gone');
      await sleep(50);
      expect(sub.messages.at(-1)).toBe('twice');
    } finally {
      await coord.close();
    }
  });

  it('consumeEach re-sends its script when the server has forgotten it', async () => {
    const { coord } = node(`test-coord-${runId}-noscript`);
    const admin = new Redis(testRedisUrl);
    try {
      const bucket = coord.keys.global(uniq('rl:noscript'));
      const limit = { capacity: 2, refillPerSecond: 0.01 };
      await coord.consume(bucket, limit);
      // As after a Redis restart: every EVALSHA answers NOSCRIPT until the script is sent.
      await admin.call('SCRIPT', ['FLUSH']);
      const other = coord.keys.global(uniq('rl:noscript'));
      expect(await coord.consumeEach([{ bucket, limit }, { bucket: other, limit }])).toEqual([
        { allowed: true, remaining: 0, retryAfterMs: 0 },
        { allowed: true, remaining: 1, retryAfterMs: 0 },
      ]);
    } finally {
      admin.disconnect();
      await coord.close();
    }
  });

  it('keeps serving commands after its command connection is killed', async () => {
    const name = `test-coord-${runId}-cmd`;
    const { coord } = node(name);
    try {
      const key = coord.keys.global(uniq('after-kill'));
      expect(await coord.incr(key)).toBe(1);
      await killConnection(`${name}:cmd`);
      expect(await coord.incr(key)).toBe(2);
      const token = await coord.acquireLease(uniq('after-kill'), 'a', 1_000);
      expect(token).not.toBeNull();
      await coord.ping();
    } finally {
      await coord.close();
    }
  });

  it('fails fast with rejected promises when Redis is unreachable', async () => {
    const logger = quietLogger();
    const coord = createRedisCoordinator({ url: 'redis://127.0.0.1:1', logger, name: 'dead' });
    const startedAt = Date.now();
    await expect(coord.ping()).rejects.toThrow();
    expect(Date.now() - startedAt).toBeLessThan(2_500);
    await sleep(500);
    // Once the outage is known, calls fail at once rather than queueing: each has already
    // rejected after one turn of the event loop (no I/O, no timer), however busy the box.
    const settledAtOnce = async (call: Promise<unknown>): Promise<unknown> => {
      const outcome = call.then(() => 'resolved', (error: unknown) => error);
      const turn = new Promise((resolve) => setImmediate(() => resolve('still pending')));
      return await Promise.race([outcome, turn]);
    };
    for (const call of [
      () => coord.incr(coord.keys.global('n')),
      () => coord.subscribe(coord.keys.global('c'), () => {}),
      () => coord.consume(coord.keys.global('b'), { capacity: 1, refillPerSecond: 1 }),
    ]) {
      const outcome = await settledAtOnce(call());
      expect(outcome).toBeInstanceOf(Error);
      expect(String(outcome)).toMatch(/unavailable/);
    }
    expect(logger.messages.filter((m) => m.includes('redis connection failed'))).toHaveLength(1);
    await coord.close();
    await expect(coord.ping()).rejects.toThrow(/closed/);
  });
});

describe.skipIf(!clusterBackend.enabled)('consumeEach on a Redis Cluster', () => {
  it('counts a bucket whose command fails as allowing while the others decide', () =>
    withEnv(clusterBackend, async (env) => {
      const coord = env.node();
      const broken = coord.keys.global(uniq('rl:apart-broken'));
      const spent = coord.keys.global(uniq('rl:apart-spent'));
      const one = { capacity: 1, refillPerSecond: 0.01 };
      // A string where the bucket's hash should be: that bucket's command fails (WRONGTYPE),
      // as one shard's would while it fails over.
      await coord.incr(broken);
      await coord.consume(spent, one);
      const [open, refused] = await coord.consumeEach(
        [{ bucket: broken, limit: one }, { bucket: spent, limit: one }]);
      expect(open).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
      expect(refused?.allowed).toBe(false);
      // When every bucket fails, the call fails, and the caller decides.
      await expect(coord.consumeEach([{ bucket: broken, limit: one }]))
        .rejects.toThrow(/WRONGTYPE/);
    }));
});
