/**
 * Redis coordination for the server and cluster shapes.
 *
 * One command connection plus one subscriber connection (a connection in subscribe mode
 * can send nothing else), created on the first subscribe. Redis is an accelerator here,
 * never the arbiter, so the connection is tuned to fail fast and recover on its own:
 * commands queue briefly while ioredis reconnects, then reject after a few attempts or a
 * bounded timeout; ioredis re-issues SUBSCRIBE for every channel after a reconnect
 * (`autoResubscribe`, on by default and relied on here); connection errors are logged,
 * never thrown. Everything that must be atomic or timed runs as a Lua script on the
 * server's clock (`TIME`), which Redis ≥ 5 allows because scripts replicate by effects.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

import { Redis, type RedisOptions } from 'ioredis';

import { openRedis, type RedisConnection, type RedisTarget } from './connect.js';
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
} from './shared.js';
import type { BucketResult, Coordinator, CoordLogger, SetOptions, Unsubscribe } from './types.js';

/** Options for the Redis coordinator. */
export interface RedisCoordinatorOptions {
  /** `redis://[user:pass@]host:port[/db]`; or give `target` for Sentinels or a cluster. */
  url?: string;
  /** Where Redis is; wins over `url`. */
  target?: RedisTarget;
  prefix?: string;
  logger?: CoordLogger;
  /** Shown in CLIENT LIST as `<name>:cmd` and `<name>:sub`, so operators see which node. */
  name?: string;
  /** Upper bound on any one command, queued time included. */
  commandTimeoutMs?: number;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 2_000;

function connectionOptions(name: string, commandTimeoutMs: number): RedisOptions {
  return {
    connectionName: `${name}:cmd`,
    // Commands issued while reconnecting wait in the offline queue (so a blip or a Redis
    // restart is invisible) but are failed after 2 more attempts, about 300 ms, instead
    // of the default 20: callers get a fast error rather than a hung request.
    enableOfflineQueue: true,
    maxRetriesPerRequest: 2,
    connectTimeout: 2_000,
    commandTimeout: commandTimeoutMs,
    retryStrategy: (attempt: number) => Math.min(attempt * 100, 2_000),
  };
}

const NOW_MS = `
if redis.replicate_commands then redis.replicate_commands() end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

// KEYS: counter. ARGV: by, ttlMs. The expiry is set only by the call that creates the key.
const INCR_WITH_TTL = `
local created = redis.call('EXISTS', KEYS[1]) == 0
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if created then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value
`;

// KEYS: bucket hashes. ARGV: capacity, refillPerSecond, cost, idleTtlMs for each key in
// turn. Mirrors takeTokens() in shared.ts for each bucket, each deciding on its own, at one
// clock reading; replies allowed, remaining, retry for each, flattened. `consume` is the
// same script with one key. A key of another type fails the call before any bucket is taken.
const TAKE_TOKENS = `${NOW_MS}
for i = 1, #KEYS do
  local kind = redis.call('TYPE', KEYS[i])['ok']
  if kind ~= 'none' and kind ~= 'hash' then
    return redis.error_reply('WRONGTYPE a rate-limit bucket is not a hash: ' .. KEYS[i])
  end
end
local now = now_ms()
local out = {}
for i = 1, #KEYS do
  local base = (i - 1) * 4
  local capacity = tonumber(ARGV[base + 1])
  local per_second = tonumber(ARGV[base + 2])
  local cost = tonumber(ARGV[base + 3])
  local saved = redis.call('HMGET', KEYS[i], 'tokens', 'at')
  local tokens = tonumber(saved[1])
  local at = tonumber(saved[2])
  if tokens == nil or at == nil then
    tokens = capacity
    at = now
  end
  tokens = math.min(capacity, tokens + math.max(0, now - at) * per_second / 1000)
  at = math.max(at, now)
  local allowed = 0
  local retry = 0
  if tokens >= cost then
    tokens = tokens - cost
    allowed = 1
  else
    retry = math.ceil((cost - tokens) * 1000 / per_second)
  end
  redis.call('HSET', KEYS[i], 'tokens', string.format('%.17g', tokens),
    'at', string.format('%d', at))
  redis.call('PEXPIRE', KEYS[i], ARGV[base + 4])
  out[#out + 1] = allowed
  out[#out + 1] = math.floor(tokens)
  out[#out + 1] = retry
end
return out
`;

// KEYS: bucket hash. ARGV: capacity, refillPerSecond, cost, idleTtlMs.
// Mirrors returnTokens() in shared.ts: an absent bucket is full, nothing to give back.
const RETURN_TOKENS = `${NOW_MS}
local capacity = tonumber(ARGV[1])
local per_second = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = now_ms()
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(saved[1])
local at = tonumber(saved[2])
if tokens == nil or at == nil then return 0 end
tokens = math.min(capacity, tokens + math.max(0, now - at) * per_second / 1000 + cost)
at = math.max(at, now)
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%d', at))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`;

// KEYS: lease hash, fence counter. ARGV: holderId, ttlMs, minToken.
// The fence never expires and is seeded from the server clock, so tokens keep increasing
// even after Redis restarts empty (a resource that remembers the highest token it saw
// would otherwise refuse every new leader).
const ACQUIRE_LEASE = `${NOW_MS}
local holder = redis.call('HGET', KEYS[1], 'holder')
if holder then
  if holder ~= ARGV[1] then return false end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(redis.call('HGET', KEYS[1], 'token'))
end
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local token = math.max(last + 1, now_ms(), tonumber(ARGV[3] or '0'))
local text = string.format('%d', token)
redis.call('SET', KEYS[2], text)
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'token', text)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return token
`;

// KEYS: lease hash. ARGV: holderId, token, ttlMs.
const RENEW_LEASE = `
local cur = redis.call('HMGET', KEYS[1], 'holder', 'token')
if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

// KEYS: lease hash. ARGV: holderId, token.
const RELEASE_LEASE = `
local cur = redis.call('HMGET', KEYS[1], 'holder', 'token')
if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`;

// Keep the largest score written within the TTL: an absent (or expired) key or a score
// at most the new one is replaced, with a fresh TTL; a larger one stays, expiry untouched.
// The whole hash is replaced, so no field of an older report lingers.
const SET_MAX = `
local current = tonumber(redis.call('HGET', KEYS[1], 'score'))
if current and current > tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'score', ARGV[1], 'value', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

// Fields written only where the hash has none (HSETNX takes one field per command, so a
// batch of them as one command). ARGV[1]: the ttl in ms, 0 to leave the expiry as it is;
// then field, value pairs.
const HASH_SET_ABSENT = `
for i = 2, #ARGV, 2 do redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
if tonumber(ARGV[1]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 1
`;

/** A Lua script run by hash; re-sent in full when the server has forgotten it (restart). */
class LuaScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(conn: RedisConnection, keys: string[], args: (string | number)[]): Promise<unknown> {
    const tail = [keys.length, ...keys, ...args];
    try {
      return await conn.call('EVALSHA', [this.sha, ...tail]);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return await conn.call('EVAL', [this.source, ...tail]);
    }
  }
}

const scripts = {
  incrWithTtl: new LuaScript(INCR_WITH_TTL),
  takeTokens: new LuaScript(TAKE_TOKENS),
  returnTokens: new LuaScript(RETURN_TOKENS),
  acquireLease: new LuaScript(ACQUIRE_LEASE),
  renewLease: new LuaScript(RENEW_LEASE),
  releaseLease: new LuaScript(RELEASE_LEASE),
  setMax: new LuaScript(SET_MAX),
  hashSetAbsent: new LuaScript(HASH_SET_ABSENT),
};

function asInteger(reply: unknown, what: string): number {
  assert.ok(typeof reply === 'number' && Number.isSafeInteger(reply), `${what}: bad reply`);
  return reply;
}

function asBucketResult(reply: unknown): BucketResult {
  assert.ok(Array.isArray(reply) && reply.length === 3, 'consume: bad reply');
  const [allowed, remaining, retryAfterMs] = reply.map((v: unknown) => asInteger(v, 'consume'));
  return { allowed: allowed === 1, remaining: remaining ?? 0, retryAfterMs: retryAfterMs ?? 0 };
}

// Once a connection has been down this long, commands fail at once instead of each
// waiting out the offline queue: a rate limiter consulted on every request must not add
// seconds to each one while Redis is away.
const FAIL_FAST_AFTER_MS = 500;

/** Tracks one connection's outages and logs the first error of each. */
class ConnectionHealth {
  private downSinceMs: number | null = null;

  constructor(conn: RedisConnection, role: string, logger: CoordLogger) {
    // ioredis emits an error per reconnect attempt; one line per outage is enough.
    conn.on('error', (err: Error) => {
      if (this.downSinceMs !== null) return;
      this.downSinceMs = performance.now();
      logger.warn({ err, role }, 'redis connection failed; reconnecting in the background');
    });
    // A server restart or CLIENT KILL closes the socket without an error.
    conn.on('close', () => {
      this.downSinceMs ??= performance.now();
    });
    conn.on('ready', () => {
      this.downSinceMs = null;
    });
  }

  /** Throws when the connection has been unusable for longer than the grace period. */
  assertUsable(): void {
    if (this.downSinceMs === null) return;
    const downMs = performance.now() - this.downSinceMs;
    if (downMs < FAIL_FAST_AFTER_MS) return;
    throw new Error(`redis unavailable for ${Math.round(downMs)} ms; reconnecting`);
  }
}

async function closeConnection(conn: RedisConnection): Promise<void> {
  if (conn.status !== 'ready') {
    conn.disconnect();
    return;
  }
  try {
    await conn.quit();
  } catch {
    conn.disconnect();
  }
}

interface ChannelEntry {
  handlers: Set<(message: string) => void>;
  /** The SUBSCRIBE in flight or done; later handlers on the channel wait for it too. */
  ready: Promise<void>;
}

/** Creates the Redis coordinator; connects at once and keeps reconnecting in the background. */
export function createRedisCoordinator(opts: RedisCoordinatorOptions): Coordinator {
  const keys = createKeyspace(opts.prefix ?? DEFAULT_PREFIX);
  const logger = opts.logger ?? consoleLogger;
  const name = opts.name ?? 'stampede';
  assert.ok(/^[\w.:-]+$/.test(name), `invalid connection name: ${name}`);
  const options = connectionOptions(name, opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
  const single: RedisTarget | undefined = opts.url === undefined
    ? undefined
    : { kind: 'single', url: opts.url };
  const target = opts.target ?? single;
  assert.ok(target !== undefined, 'createRedisCoordinator needs a url or a target');
  const cmd = openRedis(target, options);
  const cmdHealth = new ConnectionHealth(cmd, 'command', logger);
  const channels = new Map<string, ChannelEntry>();
  let sub: RedisConnection | undefined;
  let closed = false;

  const ensureOpen = (): void => {
    if (closed) throw new Error('coordinator is closed');
    cmdHealth.assertUsable();
  };
  const checkKey = (key: string): void => {
    ensureOpen();
    assertOwned(keys, key);
  };

  const subscriber = (): RedisConnection => {
    if (sub) return sub;
    const conn = openRedis(target, { ...options, connectionName: `${name}:sub` });
    new ConnectionHealth(conn, 'subscriber', logger);
    conn.on('message', (channel: string, message: string) => {
      const entry = channels.get(channel);
      if (!entry) return;
      for (const handler of [...entry.handlers]) deliver(logger, channel, handler, message);
    });
    sub = conn;
    return conn;
  };

  const forget = (channel: string, entry: ChannelEntry, handler: (m: string) => void): void => {
    entry.handlers.delete(handler);
    if (entry.handlers.size > 0 || channels.get(channel) !== entry) return;
    channels.delete(channel);
    // Sent in the same order as the SUBSCRIBE it undoes, so a resubscribe after it wins.
    sub?.unsubscribe(channel).catch((err: unknown) => {
      logger.warn({ err, channel }, 'redis unsubscribe failed');
    });
  };

  /**
   * A cluster's buckets, one script call each (one script cannot reach keys on several
   * slots), all in flight together. A bucket whose shard fails counts as allowing, as a
   * lone `consume` that fails does for its caller; the call fails only when all do.
   */
  const consumeApart = async (bucketKeys: string[], args: number[]): Promise<BucketResult[]> => {
    const settled = await Promise.allSettled(bucketKeys.map(async (bucket, i) => asBucketResult(
      await scripts.takeTokens.run(cmd, [bucket], args.slice(i * 4, i * 4 + 4)))));
    const failed = settled.filter((each) => each.status === 'rejected');
    if (failed.length === settled.length) throw (failed[0] as PromiseRejectedResult).reason;
    return settled.map((each, i) => {
      if (each.status === 'fulfilled') return each.value;
      logger.warn({ err: each.reason, bucket: bucketKeys[i] }, 'rate limit unavailable');
      return { allowed: true, remaining: 0, retryAfterMs: 0 };
    });
  };

  return {
    kind: 'redis',
    keys,

    async incr(key, by = 1, ttlMs) {
      checkKey(key);
      assertIncrement(by);
      if (ttlMs === undefined) return await cmd.incrby(key, by);
      assertTtl(ttlMs);
      return asInteger(await scripts.incrWithTtl.run(cmd, [key], [by, ttlMs]), 'incr');
    },

    async get(key) {
      checkKey(key);
      return await cmd.get(key);
    },

    async set(key, value, setOpts: SetOptions = {}) {
      checkKey(key);
      const args: (string | number)[] = [key, value];
      if (setOpts.ttlMs !== undefined) {
        assertTtl(setOpts.ttlMs);
        args.push('PX', setOpts.ttlMs);
      }
      if (setOpts.onlyIfAbsent) args.push('NX');
      return (await cmd.call('SET', args)) === 'OK';
    },

    async del(key) {
      checkKey(key);
      await cmd.del(key);
    },

    async hashGet(key, field) {
      checkKey(key);
      return await cmd.hget(key, field);
    },

    async hashSet(key, fields, ttlMs) {
      checkKey(key);
      const flat = Object.entries(fields).flat();
      if (flat.length === 0) return;
      if (ttlMs === undefined) {
        await cmd.hset(key, ...flat);
        return;
      }
      assertTtl(ttlMs);
      // One round trip, applied together: a reader never sees the fields without the TTL.
      const replies = await cmd.multi().hset(key, ...flat).pexpire(key, ttlMs).exec();
      // MULTI reports per-command failures (e.g. WRONGTYPE) in its reply, not as a throw.
      const failed = (replies ?? []).find(([err]) => err !== null)?.[0];
      if (replies === null || failed) throw failed ?? new Error(`hashSet ${key}: aborted`);
    },

    async hashSetAbsent(key, fields, ttlMs) {
      checkKey(key);
      const entries = Object.entries(fields);
      if (entries.length === 0) return;
      if (ttlMs !== undefined) assertTtl(ttlMs);
      // One command for the whole batch, applied together: a reader never sees the fields
      // without the TTL.
      await scripts.hashSetAbsent.run(cmd, [key], [ttlMs ?? 0, ...entries.flat()]);
    },

    async setMax(key, score, value, ttlMs) {
      checkKey(key);
      assertTtl(ttlMs);
      assertScore(score);
      return asInteger(await scripts.setMax.run(cmd, [key], [score, value, ttlMs]),
        'setMax') === 1;
    },

    async hashLength(key) {
      checkKey(key);
      return await cmd.hlen(key);
    },

    async publish(channel, message) {
      checkKey(channel);
      await cmd.publish(channel, message);
    },

    async subscribe(channel, handler): Promise<Unsubscribe> {
      checkKey(channel);
      const conn = subscriber();
      // Wrap so the same function subscribed twice gets two independent registrations.
      const registration = (message: string): void => handler(message);
      let entry = channels.get(channel);
      if (!entry) {
        entry = { handlers: new Set(), ready: conn.subscribe(channel).then(() => undefined) };
        channels.set(channel, entry);
      }
      entry.handlers.add(registration);
      const joined = entry;
      try {
        await joined.ready;
      } catch (err) {
        forget(channel, joined, registration);
        throw err;
      }
      let active = true;
      return async () => {
        if (!active) return;
        active = false;
        forget(channel, joined, registration);
      };
    },

    async consume(bucket, limit, cost = 1) {
      checkKey(bucket);
      assertBucket(limit, cost);
      const args = [limit.capacity, limit.refillPerSecond, cost, bucketIdleTtlMs(limit)];
      return asBucketResult(await scripts.takeTokens.run(cmd, [bucket], args));
    },

    async consumeEach(takes) {
      const bucketKeys: string[] = [];
      const args: number[] = [];
      for (const { bucket, limit, cost = 1 } of takes) {
        checkKey(bucket);
        assertBucket(limit, cost);
        bucketKeys.push(bucket);
        args.push(limit.capacity, limit.refillPerSecond, cost, bucketIdleTtlMs(limit));
      }
      if (takes.length === 0) return [];
      // A cluster keeps buckets on different slots, which one script cannot touch: there
      // each bucket is its own command, all in flight together.
      if (!(cmd instanceof Redis)) return await consumeApart(bucketKeys, args);
      const reply = await scripts.takeTokens.run(cmd, bucketKeys, args);
      assert.ok(Array.isArray(reply) && reply.length === takes.length * 3,
        'consumeEach: bad reply');
      return bucketKeys.map((_, i) => asBucketResult(reply.slice(i * 3, i * 3 + 3)));
    },

    async giveBack(bucket, limit, cost = 1) {
      checkKey(bucket);
      assertBucket(limit, cost);
      const args = [limit.capacity, limit.refillPerSecond, cost, bucketIdleTtlMs(limit)];
      await scripts.returnTokens.run(cmd, [bucket], args);
    },

    async acquireLease(leaseName, holderId, ttlMs, minToken = 0) {
      ensureOpen();
      assertTtl(ttlMs);
      const leaseKeys = [keys.lease(leaseName, 'holder'), keys.lease(leaseName, 'fence')];
      const reply = await scripts.acquireLease.run(cmd, leaseKeys,
        [holderId, ttlMs, Math.max(0, Math.floor(minToken))]);
      if (reply === null) return null;
      return asInteger(reply, 'acquireLease');
    },

    async renewLease(leaseName, holderId, token, ttlMs) {
      ensureOpen();
      assertTtl(ttlMs);
      const key = keys.lease(leaseName, 'holder');
      const reply = await scripts.renewLease.run(cmd, [key], [holderId, String(token), ttlMs]);
      return asInteger(reply, 'renewLease') === 1;
    },

    async releaseLease(leaseName, holderId, token) {
      ensureOpen();
      const key = keys.lease(leaseName, 'holder');
      await scripts.releaseLease.run(cmd, [key], [holderId, String(token)]);
    },

    async ping() {
      ensureOpen();
      await cmd.ping();
    },

    async close() {
      if (closed) return;
      closed = true;
      channels.clear();
      await Promise.all([closeConnection(cmd), sub ? closeConnection(sub) : undefined]);
    },
  };
}
