/**
 * Pure parts of the coordination layer: key naming, bucket arithmetic, and the memory
 * store's sweep. Backend behaviour lives in coord.contract.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { createKeyspace, eventKey, globalKey } from './keys.js';
import { createMemoryCoordinator, createMemoryHub } from './memory.js';
import { takeTokens, type BucketState } from './shared.js';

describe('keys', () => {
  it('puts event keys in a cluster hash tag under the prefix', () => {
    expect(eventKey('42', 'queue:seq')).toBe('stampede:{ev:42}:queue:seq');
    expect(globalKey('rl:ip:1.2.3.4')).toBe('stampede:rl:ip:1.2.3.4');
    const keys = createKeyspace('test:abc:');
    expect(keys.event('e1', 'live')).toBe('test:abc:{ev:e1}:live');
    expect(keys.lease('admission', 'fence')).toBe('test:abc:{lease:admission}:fence');
    expect(keys.owns('test:abc:x')).toBe(true);
    expect(keys.owns('stampede:x')).toBe(false);
  });

  it('refuses names that would break hash tags or SCAN patterns', () => {
    expect(() => eventKey('a}b', 'x')).toThrow(/braces/);
    expect(() => eventKey('', 'x')).toThrow(/empty/);
    expect(() => createKeyspace('bad*prefix:')).toThrow(/prefix/);
    expect(() => globalKey('')).toThrow(/empty/);
  });
});

describe('takeTokens', () => {
  const step = fc.record({ advanceMs: fc.integer({ min: -50, max: 2_000 }), cost: fc.nat(5) });

  it('never exceeds capacity, never goes negative, never admits more than it refilled', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 5, max: 50 }),
        fc.double({ min: 0.1, max: 100, noNaN: true }),
        fc.array(step, { maxLength: 60 }),
        (capacity, refillPerSecond, steps) => {
          const limit = { capacity, refillPerSecond };
          let state: BucketState | undefined;
          let nowMs = 1_000_000;
          let taken = 0;
          let forwardMs = 0;
          for (const { advanceMs, cost } of steps) {
            nowMs += advanceMs;
            forwardMs += Math.max(0, advanceMs);
            const out = takeTokens(state, nowMs, limit, cost);
            state = out.state;
            expect(state.tokens).toBeGreaterThanOrEqual(0);
            expect(state.tokens).toBeLessThanOrEqual(capacity);
            if (out.result.allowed) taken += cost;
            else expect(out.result.retryAfterMs).toBeGreaterThan(0);
          }
          // A backwards clock step refills nothing, so only forward time counts.
          expect(taken).toBeLessThanOrEqual(capacity + (forwardMs * refillPerSecond) / 1000 + 1e-6);
        },
      ),
    );
  });

  it('a denial says exactly when the request would succeed', () => {
    const limit = { capacity: 4, refillPerSecond: 3 };
    let { state } = takeTokens(undefined, 0, limit, 4);
    const denied = takeTokens(state, 0, limit, 2);
    expect(denied.result).toEqual({ allowed: false, remaining: 0, retryAfterMs: 667 });
    state = denied.state;
    expect(takeTokens(state, 666, limit, 2).result.allowed).toBe(false);
    expect(takeTokens(state, 667, limit, 2).result.allowed).toBe(true);
  });
});

describe('memory coordinator housekeeping', () => {
  it('sweeps expired entries so idle buckets and counters do not pile up', async () => {
    let nowMs = 0;
    const hub = createMemoryHub(() => nowMs);
    const coord = createMemoryCoordinator({ hub });
    const limit = { capacity: 1, refillPerSecond: 1 };
    for (let i = 0; i < 2_000; i += 1) {
      await coord.consume(coord.keys.global(`rl:ip:${i}`), limit);
      await coord.incr(coord.keys.global(`n:${i}`), 1, 1_000);
    }
    nowMs += 10_000;
    for (let i = 0; i < 4_100; i += 1) await coord.set(coord.keys.global('hot'), String(i));
    expect(hub.buckets.size + hub.strings.size).toBe(1);
  });

  it('rejects every call after close and drops its subscriptions', async () => {
    const hub = createMemoryHub();
    const coord = createMemoryCoordinator({ hub });
    await coord.subscribe(coord.keys.global('c'), () => {});
    await coord.close();
    expect(hub.channels.size).toBe(0);
    await expect(coord.ping()).rejects.toThrow(/closed/);
    await expect(coord.get(coord.keys.global('k'))).rejects.toThrow(/closed/);
  });
});
