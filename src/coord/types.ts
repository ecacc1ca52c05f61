/**
 * The coordination interface: what nodes share besides PostgreSQL.
 *
 * PostgreSQL decides every ticket's state; this layer only accelerates (counters, rate
 * limits), fans out (pub/sub) and elects (leases). Losing it may slow or pause things
 * but must never corrupt them, so every operation is allowed to fail with a rejected
 * promise and callers treat that as "try later", never as a domain answer.
 */
import type { Keyspace } from './keys.js';

/** The logging surface the coordinator needs; a pino logger satisfies it. */
export interface CoordLogger {
  warn(obj: object, msg?: string): void;
}

/** Options for `set`. */
export interface SetOptions {
  /** Expire the key after this many milliseconds. */
  ttlMs?: number;
  /** Only write when the key does not exist (SET NX); `set` then answers false. */
  onlyIfAbsent?: boolean;
}

/** A token bucket's shape: bursts up to `capacity`, sustained `refillPerSecond`. */
export interface BucketLimit {
  capacity: number;
  refillPerSecond: number;
}

/** The outcome of taking tokens from a bucket. */
export interface BucketResult {
  allowed: boolean;
  /** Whole tokens left after this call. */
  remaining: number;
  /** When denied, how long until `cost` tokens will be there (feeds `Retry-After`). */
  retryAfterMs: number;
}

/** One bucket of several taken together (`consumeEach`). */
export interface BucketTake {
  bucket: string;
  limit: BucketLimit;
  cost?: number;
}

/** Stops delivery to one handler; resolves once the transport has been told. */
export type Unsubscribe = () => Promise<void>;

/**
 * Shared coordination for one or many nodes.
 *
 * Keys and channels passed in must come from `keys` (they carry the prefix and, for
 * events, the cluster hash tag); a raw name is rejected as a programmer error.
 */
export interface Coordinator {
  readonly kind: 'memory' | 'redis';
  /** Builds this coordinator's keys and channels under its prefix. */
  readonly keys: Keyspace;
  /**
   * Atomically add `by` (default 1) to an integer counter; returns the new value.
   * `ttlMs` sets an expiry only when this call creates the counter, so a rolling window
   * is not extended by every hit.
   */
  incr(key: string, by?: number, ttlMs?: number): Promise<number>;
  get(key: string): Promise<string | null>;
  /** Returns false only when `onlyIfAbsent` was asked and the key already existed. */
  set(key: string, value: string, opts?: SetOptions): Promise<boolean>;
  del(key: string): Promise<void>;
  /** One field of a hash; null when the field or the hash is absent. */
  hashGet(key: string, field: string): Promise<string | null>;
  /**
   * Writes several fields of a hash at once (HSET). `ttlMs`, when given, (re)sets the
   * whole hash's expiry, so a cache hash cannot outlive the data it mirrors by much.
   */
  hashSet(key: string, fields: Readonly<Record<string, string>>, ttlMs?: number): Promise<void>;
  /**
   * Writes each field only where the hash has none yet (HSETNX per field), in one round
   * trip; `ttlMs` as for hashSet. A write that may land late (sent after its data was
   * committed, but not awaited) can then never replace a newer value written meanwhile by
   * hashSet, whichever reaches the server first.
   */
  hashSetAbsent(
    key: string, fields: Readonly<Record<string, string>>, ttlMs?: number,
  ): Promise<void>;
  /** Number of fields in a hash; 0 when absent. */
  hashLength(key: string): Promise<number>;
  /**
   * Keeps the largest report among those written within `ttlMs`, atomically: writes the
   * hash `{score, value}` with a fresh TTL when the key is absent (or expired) or holds a
   * score at most `score`; otherwise leaves it, and its expiry, as it is. Answers true when
   * written. Several writers each reporting their own figure then leave the largest one
   * still live, not the last one written. Read it with `hashGet(key, 'value')`.
   */
  setMax(key: string, score: number, value: string, ttlMs: number): Promise<boolean>;
  /** Fire and forget to every node subscribed now; nothing is stored for latecomers. */
  publish(channel: string, message: string): Promise<void>;
  /**
   * Returns an unsubscribe function. Handler errors are caught and logged, never thrown
   * into the transport, so one bad listener cannot stop delivery to the others.
   */
  subscribe(channel: string, handler: (message: string) => void): Promise<Unsubscribe>;
  /**
   * Token bucket: `capacity` tokens, refilled continuously at `refillPerSecond`; atomic
   * and timed by the store's clock (Redis TIME), so nodes with skewed clocks agree.
   */
  consume(bucket: string, limit: BucketLimit, cost?: number): Promise<BucketResult>;
  /**
   * `consume` on each bucket, in one round trip (one script call on Redis, so a request
   * with three buckets costs one command, one send and one reply, not three); each bucket
   * decides on its own, results in the order given. On a Redis Cluster, whose buckets lie on
   * different slots, each bucket is its own command, all in flight together, and a bucket
   * whose shard fails counts as allowing (the others still decide). Rejects when the whole
   * store fails, so a caller that fails open does so for the request.
   */
  consumeEach(takes: readonly BucketTake[]): Promise<BucketResult[]>;
  /**
   * Gives `cost` tokens back to a bucket (capped at its capacity): a take that counted for a
   * request another bucket refused. A bucket that has expired meanwhile is full already.
   */
  giveBack(bucket: string, limit: BucketLimit, cost?: number): Promise<void>;
  /**
   * Leader lease: acquire if free or already ours; returns a fencing token or null.
   * Tokens strictly increase per name across holders (seeded from the store's clock, so
   * they keep increasing even if Redis loses its data); pass the token to whatever the
   * leader writes so a deposed leader's late writes can be refused. A new token is at least
   * `minToken` (the highest token another lease store issued, see coord/pgLease.ts).
   */
  acquireLease(name: string, holderId: string, ttlMs: number, minToken?: number):
    Promise<number | null>;
  /** Renew only if still held by holderId with that token; false when lost. */
  renewLease(name: string, holderId: string, token: number, ttlMs: number): Promise<boolean>;
  /** Give the lease up early so another node need not wait for it to expire. */
  releaseLease(name: string, holderId: string, token: number): Promise<void>;
  /** Rejects when the store is unreachable (readiness checks). */
  ping(): Promise<void>;
  /** Drops connections and subscriptions; later calls reject. */
  close(): Promise<void>;
}

/** What a LeaderElector needs: the lease half of a coordinator (or a fallback around it). */
export type LeaseStore = Pick<Coordinator, 'acquireLease' | 'renewLease' | 'releaseLease'> & {
  /** Drops whatever the store keeps for a lease this holder no longer competes for. */
  forget?(name: string, holderId: string): Promise<void>;
};
