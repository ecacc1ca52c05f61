/**
 * In-process coordination for the embedded single-process shape (no Redis).
 *
 * Behaves like the Redis coordinator as far as callers can tell: TTLs are honoured
 * lazily against an injected clock (so tests move time instead of sleeping), pub/sub
 * delivers on a later turn of the event loop (never inside `publish`), and keys must carry
 * the prefix. Several coordinators may share one `MemoryHub` to stand in for several nodes
 * on one Redis in tests.
 */
import assert from 'node:assert/strict';

import { createKeyspace, DEFAULT_PREFIX } from './keys.js';
import {
  assertBucket,
  assertIncrement,
  assertOwned,
  assertScore,
  assertTtl,
  bucketIdleTtlMs,
  consoleLogger,
  deliver,
  returnTokens,
  takeTokens,
  type BucketState,
} from './shared.js';
import type {
  BucketLimit, BucketResult, Coordinator, CoordLogger, SetOptions, Unsubscribe,
} from './types.js';

interface Expiring {
  expiresAtMs: number | null;
}

interface StringEntry extends Expiring {
  value: string;
}

interface BucketEntry extends Expiring, BucketState {}

interface HashEntry extends Expiring {
  fields: Map<string, string>;
}

interface LeaseEntry extends Expiring {
  holderId: string;
  token: number;
}

interface Subscription {
  channel: string;
  handler: (message: string) => void;
  active: boolean;
  logger: CoordLogger;
}

// Expired entries are dropped when touched; a full sweep runs once the writes since the
// last sweep reach the store's size, so idle rate-limit buckets cannot pile up forever
// and the sweep costs O(1) per write amortised.
const MIN_WRITES_BETWEEN_SWEEPS = 1024;

/** The state shared by every memory coordinator created on it: the "one Redis". */
export class MemoryHub {
  readonly strings = new Map<string, StringEntry>();
  readonly buckets = new Map<string, BucketEntry>();
  readonly hashes = new Map<string, HashEntry>();
  readonly leases = new Map<string, LeaseEntry>();
  readonly fences = new Map<string, number>();
  readonly channels = new Map<string, Set<Subscription>>();
  private writesSinceSweep = 0;

  constructor(readonly clock: () => number) {}

  /** The entry if it has not expired; an expired one is removed on the way. */
  live<T extends Expiring>(map: Map<string, T>, key: string): T | undefined {
    const entry = map.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs === null || entry.expiresAtMs > this.clock()) return entry;
    map.delete(key);
    return undefined;
  }

  /** Counts a write and sweeps expired entries when enough have accumulated. */
  wrote(): void {
    this.writesSinceSweep += 1;
    const size = this.strings.size + this.buckets.size + this.hashes.size + this.leases.size;
    if (this.writesSinceSweep < Math.max(MIN_WRITES_BETWEEN_SWEEPS, size)) return;
    this.writesSinceSweep = 0;
    const now = this.clock();
    const maps = [this.strings, this.buckets, this.hashes, this.leases] as Map<string, Expiring>[];
    for (const map of maps) {
      for (const [key, entry] of map) {
        if (entry.expiresAtMs !== null && entry.expiresAtMs <= now) map.delete(key);
      }
    }
  }

  expiryFrom(ttlMs: number | undefined): number | null {
    return ttlMs === undefined ? null : this.clock() + ttlMs;
  }
}

/** A fresh shared state; pass one hub to several coordinators to simulate several nodes. */
export function createMemoryHub(clock: () => number = Date.now): MemoryHub {
  return new MemoryHub(clock);
}

/** Options for the in-process coordinator. */
export interface MemoryCoordinatorOptions {
  /** Milliseconds since the epoch; tests pass a movable clock. Not with `hub`. */
  clock?: () => number;
  /** Share state with other coordinators (the hub carries the clock). */
  hub?: MemoryHub;
  prefix?: string;
  logger?: CoordLogger;
}

function wrongType(key: string): Error {
  return new Error(`WRONGTYPE ${key} holds a different kind of value`);
}

function parseCounter(key: string, value: string): number {
  if (!/^-?\d+$/.test(value)) throw new Error(`ERR value at ${key} is not an integer`);
  return Number(value);
}

/** Creates the in-process coordinator used when no REDIS_URL is configured. */
export function createMemoryCoordinator(opts: MemoryCoordinatorOptions = {}): Coordinator {
  assert.ok(!(opts.hub && opts.clock), 'pass the clock to createMemoryHub when sharing a hub');
  const hub = opts.hub ?? createMemoryHub(opts.clock);
  /** hashSet and hashSetAbsent: with `onlyAbsent`, fields the hash already has are kept. */
  const writeHash = (key: string, fields: Readonly<Record<string, string>>,
    ttlMs: number | undefined, onlyAbsent: boolean): void => {
    checkKey(key);
    if (ttlMs !== undefined) assertTtl(ttlMs);
    assertOnlyHash(key);
    hub.wrote();
    let entry = hub.live(hub.hashes, key);
    if (!entry) {
      entry = { fields: new Map(), expiresAtMs: null };
      hub.hashes.set(key, entry);
    }
    for (const [field, value] of Object.entries(fields)) {
      if (!onlyAbsent || !entry.fields.has(field)) entry.fields.set(field, value);
    }
    if (ttlMs !== undefined) entry.expiresAtMs = hub.expiryFrom(ttlMs);
  };
  const keys = createKeyspace(opts.prefix ?? DEFAULT_PREFIX);
  const logger = opts.logger ?? consoleLogger;
  const mine = new Set<Subscription>();
  let closed = false;

  const ensureOpen = (): void => {
    if (closed) throw new Error('coordinator is closed');
  };
  const checkKey = (key: string): void => {
    ensureOpen();
    assertOwned(keys, key);
  };
  // Redis refuses a string command on a hash and vice versa; so does the stand-in.
  const assertNotHash = (key: string): void => {
    if (hub.live(hub.hashes, key)) throw wrongType(key);
  };
  const assertOnlyHash = (key: string): void => {
    if (hub.live(hub.strings, key) || hub.live(hub.buckets, key)) throw wrongType(key);
  };

  // One take from a bucket, as Redis's script does it (shared by consume and consumeEach).
  const checkTake = (bucket: string, limit: BucketLimit, cost: number): void => {
    checkKey(bucket);
    assertBucket(limit, cost);
    if (hub.live(hub.strings, bucket)) throw wrongType(bucket);
    assertNotHash(bucket);
  };
  const consumeNow = (bucket: string, limit: BucketLimit, cost: number): BucketResult => {
    checkTake(bucket, limit, cost);
    hub.wrote();
    const now = hub.clock();
    const { state, result } = takeTokens(hub.live(hub.buckets, bucket), now, limit, cost);
    hub.buckets.set(bucket, { ...state, expiresAtMs: now + bucketIdleTtlMs(limit) });
    return result;
  };

  const coordinator: Coordinator = {
    kind: 'memory',
    keys,

    async incr(key, by = 1, ttlMs) {
      checkKey(key);
      assertIncrement(by);
      if (ttlMs !== undefined) assertTtl(ttlMs);
      if (hub.live(hub.buckets, key)) throw wrongType(key);
      assertNotHash(key);
      hub.wrote();
      const entry = hub.live(hub.strings, key);
      if (!entry) {
        hub.strings.set(key, { value: String(by), expiresAtMs: hub.expiryFrom(ttlMs) });
        return by;
      }
      const next = parseCounter(key, entry.value) + by;
      entry.value = String(next);
      return next;
    },

    async get(key) {
      checkKey(key);
      if (hub.live(hub.buckets, key)) throw wrongType(key);
      assertNotHash(key);
      return hub.live(hub.strings, key)?.value ?? null;
    },

    async set(key, value, setOpts: SetOptions = {}) {
      checkKey(key);
      if (setOpts.ttlMs !== undefined) assertTtl(setOpts.ttlMs);
      const present =
        hub.live(hub.strings, key) ?? hub.live(hub.buckets, key) ?? hub.live(hub.hashes, key);
      if (setOpts.onlyIfAbsent && present) return false;
      hub.wrote();
      hub.buckets.delete(key);
      hub.hashes.delete(key);
      hub.strings.set(key, { value, expiresAtMs: hub.expiryFrom(setOpts.ttlMs) });
      return true;
    },

    async del(key) {
      checkKey(key);
      hub.strings.delete(key);
      hub.buckets.delete(key);
      hub.hashes.delete(key);
    },

    async hashGet(key, field) {
      checkKey(key);
      assertOnlyHash(key);
      return hub.live(hub.hashes, key)?.fields.get(field) ?? null;
    },

    async hashSet(key, fields, ttlMs) {
      writeHash(key, fields, ttlMs, false);
    },

    async hashSetAbsent(key, fields, ttlMs) {
      writeHash(key, fields, ttlMs, true);
    },

    async setMax(key, score, value, ttlMs) {
      checkKey(key);
      assertTtl(ttlMs);
      assertScore(score);
      assertOnlyHash(key);
      const entry = hub.live(hub.hashes, key);
      if (entry && Number(entry.fields.get('score')) > score) return false;
      hub.wrote();
      hub.hashes.set(key, {
        fields: new Map([['score', String(score)], ['value', value]]),
        expiresAtMs: hub.expiryFrom(ttlMs),
      });
      return true;
    },

    async hashLength(key) {
      checkKey(key);
      assertOnlyHash(key);
      return hub.live(hub.hashes, key)?.fields.size ?? 0;
    },

    async publish(channel, message) {
      checkKey(channel);
      const subs = hub.channels.get(channel);
      if (!subs) return;
      for (const sub of subs) {
        // Redis delivers over the network, after publish returns; so do we.
        setImmediate(() => {
          if (sub.active) deliver(sub.logger, channel, sub.handler, message);
        });
      }
    },

    async subscribe(channel, handler): Promise<Unsubscribe> {
      checkKey(channel);
      const sub: Subscription = { channel, handler, active: true, logger };
      let subs = hub.channels.get(channel);
      if (!subs) {
        subs = new Set();
        hub.channels.set(channel, subs);
      }
      subs.add(sub);
      mine.add(sub);
      return async () => {
        dropSubscription(hub, sub);
        mine.delete(sub);
      };
    },

    async consume(bucket, limit, cost = 1) {
      return consumeNow(bucket, limit, cost);
    },

    async consumeEach(takes) {
      // Checked before any is taken, as Redis does: a bad take changes no bucket.
      for (const { bucket, limit, cost = 1 } of takes) checkTake(bucket, limit, cost);
      return takes.map(({ bucket, limit, cost = 1 }) => consumeNow(bucket, limit, cost));
    },

    async giveBack(bucket, limit, cost = 1) {
      checkKey(bucket);
      assertBucket(limit, cost);
      const now = hub.clock();
      const state = returnTokens(hub.live(hub.buckets, bucket), now, limit, cost);
      if (state === undefined) return;
      hub.wrote();
      hub.buckets.set(bucket, { ...state, expiresAtMs: now + bucketIdleTtlMs(limit) });
    },

    async acquireLease(name, holderId, ttlMs, minToken = 0) {
      ensureOpen();
      assertTtl(ttlMs);
      const key = keys.lease(name, 'holder');
      const current = hub.live(hub.leases, key);
      if (current) {
        if (current.holderId !== holderId) return null;
        current.expiresAtMs = hub.clock() + ttlMs;
        return current.token;
      }
      hub.wrote();
      const fenceKey = keys.lease(name, 'fence');
      const token = Math.max((hub.fences.get(fenceKey) ?? 0) + 1, Math.floor(hub.clock()),
        Math.floor(minToken));
      hub.fences.set(fenceKey, token);
      hub.leases.set(key, { holderId, token, expiresAtMs: hub.clock() + ttlMs });
      return token;
    },

    async renewLease(name, holderId, token, ttlMs) {
      ensureOpen();
      assertTtl(ttlMs);
      const current = hub.live(hub.leases, keys.lease(name, 'holder'));
      if (!current || current.holderId !== holderId || current.token !== token) return false;
      current.expiresAtMs = hub.clock() + ttlMs;
      return true;
    },

    async releaseLease(name, holderId, token) {
      ensureOpen();
      const key = keys.lease(name, 'holder');
      const current = hub.live(hub.leases, key);
      if (!current || current.holderId !== holderId || current.token !== token) return;
      hub.leases.delete(key);
    },

    async ping() {
      ensureOpen();
    },

    async close() {
      if (closed) return;
      closed = true;
      for (const sub of mine) dropSubscription(hub, sub);
      mine.clear();
    },
  };
  return coordinator;
}

function dropSubscription(hub: MemoryHub, sub: Subscription): void {
  sub.active = false;
  const subs = hub.channels.get(sub.channel);
  if (!subs) return;
  subs.delete(sub);
  if (subs.size === 0) hub.channels.delete(sub.channel);
}
