/**
 * The cross-node hold latency histogram: bucket and quantile arithmetic, and two nodes'
 * recorders adding into one shared histogram, on the in-process store and on Redis.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { createMemoryCoordinator, createMemoryHub } from '../coord/memory.js';
import { createRedisCoordinator } from '../coord/redis.js';
import type { Coordinator } from '../coord/types.js';
import { serviceAvailable, testRedisUrl } from '../testing/services.js';
import {
  bucketOf, HoldLatencyRecorder, latencyBucketsMs, latencyWindowMs, quantileMs,
  readLatencyWindows, sumCounts,
} from './latency.js';

const redisUp = await serviceAvailable('Redis', testRedisUrl);
const prefix = `test:holdlat:${randomBytes(4).toString('hex')}:`;
const eventId = '5f0c6a54-8f43-4d2a-9d36-0a7c1f3e9b10';

describe('latency histogram arithmetic', () => {
  it('puts a reply in the first bucket whose bound it does not exceed', () => {
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(5)).toBe(0);
    expect(bucketOf(5.01)).toBe(1);
    expect(bucketOf(999)).toBe(latencyBucketsMs.indexOf(1_000));
    expect(bucketOf(60_000)).toBe(latencyBucketsMs.length);
  });

  it('takes quantiles linearly within a bucket, like Prometheus', () => {
    const counts = new Array<number>(latencyBucketsMs.length + 1).fill(0);
    expect(quantileMs(counts, 0.99)).toBeNull();
    counts[bucketOf(20)] = 99; // (10, 25]
    counts[bucketOf(400)] = 1; // (250, 500]
    expect(quantileMs(counts, 0.5)).toBeCloseTo(10 + 15 * (50 / 99));
    expect(quantileMs(counts, 0.99)).toBeCloseTo(25);
    expect(quantileMs(counts, 1)).toBeCloseTo(500);
    counts[latencyBucketsMs.length] = 1_000; // all slower than the last bound
    expect(quantileMs(counts, 0.99)).toBe(latencyBucketsMs.at(-1));
  });
});

type Store = { name: string; enabled: boolean; open: (clock: ManualClock) => Coordinator[] };
const stores: Store[] = [
  {
    name: 'memory', enabled: true,
    open: (clock) => {
      const hub = createMemoryHub(() => clock.nowMs());
      return [createMemoryCoordinator({ hub }), createMemoryCoordinator({ hub })];
    },
  },
  {
    name: 'redis', enabled: redisUp,
    open: () => [1, 2].map((n) => createRedisCoordinator({
      url: testRedisUrl, prefix, name: `test-holdlat-${n}`,
    })),
  },
];

afterAll(async () => {
  if (!redisUp) return;
  const admin = new Redis(testRedisUrl);
  const keys = await admin.keys(`${prefix}*`);
  if (keys.length > 0) await admin.del(...keys);
  admin.disconnect();
});

for (const store of stores) {
  describe.skipIf(!store.enabled)(`shared hold latency on ${store.name}`, () => {
    it('adds two nodes into one histogram per window; nothing before a flush', async () => {
      const clock = new ManualClock(Date.UTC(2031, 4, 1, 12, 0, 0));
      const [one, two] = store.open(clock) as [Coordinator, Coordinator];
      try {
        const nodeA = new HoldLatencyRecorder(one, clock);
        const nodeB = new HoldLatencyRecorder(two, clock);
        for (let i = 0; i < 98; i += 1) nodeA.record(eventId, 8);
        nodeB.record(eventId, 300);
        nodeB.record(eventId, 300);
        const before = await readLatencyWindows(one, eventId, clock.nowMs(), 2);
        expect(sumCounts(before).reduce((a, b) => a + b, 0)).toBe(0);
        await nodeA.flush();
        await nodeB.flush();
        await nodeB.flush(); // an empty flush adds nothing twice

        clock.advance(latencyWindowMs);
        nodeA.record(eventId, 3);
        await nodeA.flush();

        const windows = await readLatencyWindows(two, eventId, clock.nowMs(), 3);
        expect(windows.map((w) => w.startMs)).toEqual([
          clock.nowMs() - 2 * latencyWindowMs, clock.nowMs() - latencyWindowMs, clock.nowMs(),
        ]);
        expect(windows[0]?.counts.every((count) => count === 0)).toBe(true);
        expect(windows[1]?.counts[bucketOf(8)]).toBe(98);
        expect(windows[1]?.counts[bucketOf(300)]).toBe(2);
        expect(windows[2]?.counts[bucketOf(3)]).toBe(1);
        const all = sumCounts(windows);
        expect(all.reduce((a, b) => a + b, 0)).toBe(101);
        expect(quantileMs(windows[1]?.counts ?? [], 0.99)).toBeGreaterThan(250);
      } finally {
        await one.close();
        await two.close();
      }
    });
  });
}
