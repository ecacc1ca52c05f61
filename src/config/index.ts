/**
 * The only reader of process.env. Every variable is parsed and validated at boot; a bad
 * value stops the process with a message naming the variable.
 */
import path from 'node:path';

import { parseHostPorts, type RedisTarget } from '../coord/connect.js';
import { DEFAULT_PREFIX, isKeyPrefix } from '../coord/keys.js';

export type Role = 'api' | 'worker' | 'realtime';
export const allRoles: readonly Role[] = ['api', 'worker', 'realtime'];

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Validated runtime configuration. */
export interface Config {
  port: number;
  host: string;
  /** PostgreSQL URL; undefined means the embedded PGlite database under dataDir. */
  databaseUrl: string | undefined;
  /**
   * PostgreSQL URL for reads that decide nothing (search, event pages, seat-map snapshots,
   * stats), typically a streaming standby; undefined means the primary serves them too.
   */
  databaseReadUrl: string | undefined;
  /** Redis URL; undefined means in-process coordination (unless Sentinels or a cluster). */
  redisUrl: string | undefined;
  /** The Redis to coordinate through, from REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES. */
  redis: RedisTarget | undefined;
  /**
   * Prefix of every Redis key and channel of this deployment. Two deployments sharing one
   * Redis need different prefixes: a node refuses to start on a prefix another deployment
   * (another database) holds.
   */
  redisKeyPrefix: string;
  dataDir: string;
  /**
   * Where embedded PGlite runs: 'worker' (default), a worker thread of its own, so HTTP and
   * the database use two cores (storage/pgliteWorker.ts), or 'main', the node's own thread.
   */
  pgliteThread: 'main' | 'worker';
  /** The built web app to serve at `/`; undefined means the build beside the server. */
  webDir: string | undefined;
  adminToken: string | undefined;
  secret: string | undefined;
  paymentProvider: 'simulated' | 'stripe';
  stripeSecretKey: string | undefined;
  stripeWebhookSecret: string | undefined;
  /**
   * How Stripe is called: the API base URL (unset: Stripe itself; set for stripe-mock or a
   * proxy), the per-request timeout and how many times a request that got no answer is
   * retried (same idempotency key). A buyer waits at most about
   * timeout × (retries + 1) + 0.5 s × retries for a Stripe call at checkout.
   */
  stripe: { apiUrl: string | undefined; timeoutMs: number; maxNetworkRetries: number };
  /**
   * How long a hold's tickets stay reserved once checkout has started, beyond the buyer's
   * timer, so a payment that succeeds late still finds its tickets.
   */
  paymentWindowSeconds: number;
  /** Base URL at which this node is reachable (used for links and simulated webhooks). */
  publicUrl: string;
  /** SMTP server for notification e-mails (smtp:// or smtps://); unset: no e-mail. */
  smtpUrl: string | undefined;
  /** The From header of notification e-mails. */
  smtpFrom: string;
  roles: ReadonlySet<Role>;
  logLevel: LogLevel;
  pg: {
    poolMax: number;
    connectTimeoutMs: number;
    statementTimeoutMs: number;
    lockTimeoutMs: number;
    idleInTransactionTimeoutMs: number;
  };
  http: {
    requestTimeoutMs: number;
    /** Writes allowed per client address per minute (bursts included). */
    writesPerIpPerMinute: number;
    /**
     * Public catalog reads (event page, search) per client address per minute: generous,
     * since a whole venue's fans may share one NAT address.
     */
    readsPerIpPerMinute: number;
    /** Age of the per-node cache of event pages and search results; 0 turns it off. */
    publicReadCacheMs: number;
    /**
     * Age of the per-node cache of the organizer's live on-sale figures; 0 turns it off.
     * Bounds what dashboards cost: one computation per event, node and period, however
     * many organizers watch.
     */
    statsCacheMs: number;
    /**
     * Payment webhooks per sending address per minute: their own budget, apart from the
     * write limit (they are signature-gated, and a big sale sends many from few addresses).
     */
    webhooksPerIpPerMinute: number;
    /** Logins and registrations per client address per minute (a box office shares one). */
    authPerIpPerMinute: number;
    /** Login attempts per e-mail address per quarter hour: guessing stops after a few. */
    loginsPerEmailPerQuarterHour: number;
    /** Checkouts, extensions, releases and cancellations per customer per minute, each. */
    bookingWritesPerCustomerPerMinute: number;
    /** Who may read /metrics: anyone, holders of `metricsToken`, or nobody (no route). */
    metricsAccess: 'public' | 'token' | 'off';
    metricsToken: string | undefined;
    /** Trust X-Forwarded-For from this many proxy hops (0: use the socket address). */
    trustProxy: number;
    /**
     * Log every request and response at info level. Off by default in production, where a
     * line per request at on-sale rates drowns what matters; errors are still logged with
     * their request id, and every reply carries `x-request-id`.
     */
    logRequests: boolean;
  };
  /** Seed the demo venue and event when the database has no events. */
  seedDemo: boolean;
  queue: QueueConfig;
  live: LiveConfig;
}

/** The outbox relay and the live seat-map feed (SSE and WebSocket). */
export interface LiveConfig {
  /** Pause between relay rounds; batches reach clients within about this plus a hop. */
  relayPollMs: number;
  /** Lease on the relay duty; a dead relay leader is replaced within about this long. */
  relayLeaderTtlMs: number;
  /** How often the elected node turns lapsed holds into `expired`. */
  holdSweepMs: number;
  /** Comment lines (SSE) or pings (WebSocket) at this period. */
  heartbeatMs: number;
  /** Open live connections per node; more are refused with 503 and Retry-After. */
  maxConnections: number;
  /** Open live connections per client address per node; more are refused with 429. */
  maxPerAddress: number;
  /** Bytes a connection may have waiting to be sent before it is dropped as too slow. */
  maxBufferedBytes: number;
  /** A live connection is ended after this long; the client reconnects and resumes. */
  maxLifetimeSeconds: number;
}

/** Waiting-room tuning and its abuse limits (per-event pacing lives on the event). */
export interface QueueConfig {
  /** How often the admission leader advances each line. */
  tickMs: number;
  /** Lease on the admission duty; a dead leader is replaced within about this long. */
  leaderTtlMs: number;
  /** An admitted fan who places no hold with the pass within this loses the slot. */
  claimGraceSeconds: number;
  /** A shopper who has held nothing for this long (holds all ended) gives the slot back. */
  idleSeconds: number;
  /** Share of held tickets (no payment under way) counted as coming back, in percent. */
  heldReturnPercent: number;
  /** Tickets one shopper takes, until the event has enough holds to measure it. */
  ticketsPerShopper: number;
  /**
   * A shopper holding nothing counts against the inventory room only while they have shown
   * a sign of life (admitted, tried a hold, ended one) within this many seconds.
   */
  seekerSeconds: number;
  /** SSE comment lines keep idle proxies from closing the stream. */
  sseHeartbeatMs: number;
  /** Open queue streams per node; more are refused with 503 and Retry-After. */
  sseMaxConnections: number;
  /** Open queue streams per customer per node; more are refused with 429 and Retry-After. */
  sseMaxPerCustomer: number;
  /** A queue stream is ended after this long; the client reconnects with Last-Event-ID. */
  sseMaxLifetimeSeconds: number;
  /** Proof-of-work difficulty: the solver tries up to this many numbers (about half on average). */
  powMaxNumber: number;
  /** A proof-of-work challenge must be solved and used within this long. */
  powChallengeSeconds: number;
  joinsPerCustomerPerMinute: number;
  joinsPerIpPerMinute: number;
  holdsPerCustomerPerMinute: number;
  holdsPerIpPerMinute: number;
  /** `queue/me` polls per customer per minute. */
  pollsPerCustomerPerMinute: number;
  /**
   * Shoppers first: while this node's event loop runs later than this on average (ms),
   * new joins and waiting fans' polls are refused with 429 and Retry-After (http/shed.ts),
   * so admitted shoppers' holds and checkouts get the CPU. 0 turns shedding off.
   */
  shedEventLoopDelayMs: number;
  /** The Retry-After of a shed join or poll. */
  shedRetryAfterSeconds: number;
  /**
   * A hold whose event's hold batch queue on this node would keep it waiting longer than
   * this (ms; queue depth against the measured batch time, or the oldest waiter's age) is
   * refused at once with 503 and Retry-After (holds/busy.ts). 0 turns the bound off.
   */
  holdQueueWaitMaxMs: number;
  /** The Retry-After of a hold refused because the store was busy. */
  holdBusyRetryAfterSeconds: number;
  /**
   * Store-paced admission (queue/storePace.ts): the admission rate is scaled down while the
   * store reports a hold queue wait above this (ms). 0 turns store pacing off.
   */
  storeTargetWaitMs: number;
  /** Store pacing never scales the admission rate below this share of it, in percent. */
  storePaceMinPercent: number;
}

/** Thrown for a bad environment variable; the message names it. */
export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function text(env: Env, name: string): string | undefined {
  const value = env[name];
  if (value === undefined || value.trim() === '') return undefined;
  return value.trim();
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `must be an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

function optionalPath(value: string | undefined): string | undefined {
  return value === undefined ? undefined : path.resolve(value);
}

function url(env: Env, name: string, protocols: readonly string[]): string | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, 'must be a URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}, got ${parsed.protocol}`);
  }
  return raw;
}

function secretValue(env: Env, name: string): string | undefined {
  const raw = text(env, name);
  if (raw !== undefined && raw.length < 16) {
    throw new ConfigError(name, 'must be at least 16 characters');
  }
  return raw;
}

function hostPorts(env: Env, name: string): ReturnType<typeof parseHostPorts> | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  try {
    const list = parseHostPorts(raw);
    if (list.length === 0) throw new Error('is empty');
    return list;
  } catch (error) {
    throw new ConfigError(name, `must be host:port[,host:port...]: ${(error as Error).message}`);
  }
}

/** REDIS_KEY_PREFIX: letters, digits and `_.:-` only (it must survive SCAN MATCH and hash tags). */
function keyPrefix(env: Env): string {
  const prefix = text(env, 'REDIS_KEY_PREFIX') ?? DEFAULT_PREFIX;
  if (!isKeyPrefix(prefix) || prefix.length > 64) {
    throw new ConfigError('REDIS_KEY_PREFIX',
      `must be 1-64 letters, digits or _.:- characters, got "${prefix}"`);
  }
  return prefix;
}

/** One of REDIS_URL, REDIS_SENTINELS (+ REDIS_SENTINEL_MASTER) or REDIS_CLUSTER_NODES. */
function redisTarget(env: Env, redisUrl: string | undefined): RedisTarget | undefined {
  const sentinels = hostPorts(env, 'REDIS_SENTINELS');
  const nodes = hostPorts(env, 'REDIS_CLUSTER_NODES');
  const given = [redisUrl, sentinels, nodes].filter((value) => value !== undefined).length;
  if (given > 1) {
    throw new ConfigError('REDIS_SENTINELS',
      'REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES are alternatives: set one');
  }
  const masterName = text(env, 'REDIS_SENTINEL_MASTER') ?? 'stampede';
  if (!/^[\w.-]+$/.test(masterName)) {
    throw new ConfigError('REDIS_SENTINEL_MASTER', 'must be a Sentinel master name');
  }
  if (sentinels) return { kind: 'sentinel', sentinels, masterName };
  if (nodes) return { kind: 'cluster', nodes };
  return redisUrl === undefined ? undefined : { kind: 'single', url: redisUrl };
}

function roles(env: Env): ReadonlySet<Role> {
  const raw = text(env, 'ROLES');
  if (raw === undefined) return new Set(allRoles);
  const picked = raw.split(',').map((part) => part.trim()).filter((part) => part !== '');
  for (const role of picked) {
    if (!(allRoles as readonly string[]).includes(role)) {
      throw new ConfigError('ROLES', `has unknown role "${role}" (known: ${allRoles.join(', ')})`);
    }
  }
  if (picked.length === 0) throw new ConfigError('ROLES', 'must name at least one role');
  return new Set(picked as Role[]);
}

function queueConfig(env: Env): QueueConfig {
  return {
    tickMs: integer(env, 'QUEUE_TICK_MS', 1_000, 50, 60_000),
    leaderTtlMs: integer(env, 'QUEUE_LEADER_TTL_MS', 5_000, 300, 120_000),
    claimGraceSeconds: integer(env, 'QUEUE_CLAIM_GRACE_SECONDS', 120, 5, 3_600),
    idleSeconds: integer(env, 'QUEUE_IDLE_SECONDS', 30, 1, 3_600),
    heldReturnPercent: integer(env, 'QUEUE_HELD_RETURN_PERCENT', 25, 0, 100),
    ticketsPerShopper: integer(env, 'QUEUE_TICKETS_PER_SHOPPER', 2, 1, 50),
    seekerSeconds: integer(env, 'QUEUE_SEEKER_SECONDS', 20, 1, 3_600),
    sseHeartbeatMs: integer(env, 'QUEUE_SSE_HEARTBEAT_MS', 15_000, 100, 120_000),
    sseMaxConnections: integer(env, 'QUEUE_SSE_MAX_CONNECTIONS', 20_000, 1, 1_000_000),
    sseMaxPerCustomer: integer(env, 'QUEUE_SSE_MAX_PER_CUSTOMER', 3, 1, 100),
    sseMaxLifetimeSeconds: integer(env, 'QUEUE_SSE_MAX_LIFETIME_SECONDS', 1_800, 1, 86_400),
    powMaxNumber: integer(env, 'QUEUE_POW_MAX_NUMBER', 50_000, 10, 10_000_000),
    powChallengeSeconds: integer(env, 'QUEUE_POW_CHALLENGE_SECONDS', 300, 10, 3_600),
    joinsPerCustomerPerMinute: integer(env, 'RATE_LIMIT_JOINS_PER_CUSTOMER', 30, 1, 1_000_000),
    joinsPerIpPerMinute: integer(env, 'RATE_LIMIT_JOINS_PER_IP', 3_000, 1, 10_000_000),
    holdsPerCustomerPerMinute: integer(env, 'RATE_LIMIT_HOLDS_PER_CUSTOMER', 60, 1, 1_000_000),
    holdsPerIpPerMinute: integer(env, 'RATE_LIMIT_HOLDS_PER_IP', 6_000, 1, 10_000_000),
    pollsPerCustomerPerMinute: integer(env, 'RATE_LIMIT_QUEUE_POLLS_PER_CUSTOMER', 120, 1,
      1_000_000),
    shedEventLoopDelayMs: integer(env, 'SHED_EVENT_LOOP_DELAY_MS', 0, 0, 60_000),
    shedRetryAfterSeconds: integer(env, 'SHED_RETRY_AFTER_SECONDS', 2, 1, 60),
    holdQueueWaitMaxMs: integer(env, 'HOLD_QUEUE_WAIT_MAX_MS', 5_000, 0, 120_000),
    holdBusyRetryAfterSeconds: integer(env, 'HOLD_BUSY_RETRY_AFTER_SECONDS', 2, 1, 60),
    storeTargetWaitMs: integer(env, 'QUEUE_STORE_TARGET_WAIT_MS', 1_000, 0, 60_000),
    storePaceMinPercent: integer(env, 'QUEUE_STORE_PACE_MIN_PERCENT', 10, 1, 100),
  };
}

function liveConfig(env: Env): LiveConfig {
  return {
    relayPollMs: integer(env, 'OUTBOX_RELAY_POLL_MS', 100, 10, 250),
    relayLeaderTtlMs: integer(env, 'OUTBOX_LEADER_TTL_MS', 5_000, 300, 120_000),
    holdSweepMs: integer(env, 'HOLD_SWEEP_MS', 250, 50, 60_000),
    heartbeatMs: integer(env, 'LIVE_HEARTBEAT_MS', 15_000, 100, 120_000),
    maxConnections: integer(env, 'LIVE_MAX_CONNECTIONS', 20_000, 1, 1_000_000),
    maxPerAddress: integer(env, 'LIVE_MAX_PER_ADDRESS', 50, 1, 1_000_000),
    maxBufferedBytes: integer(env, 'LIVE_MAX_BUFFERED_BYTES', 1_048_576, 4_096, 268_435_456),
    maxLifetimeSeconds: integer(env, 'LIVE_MAX_LIFETIME_SECONDS', 3_600, 1, 86_400),
  };
}

/** Parses and validates the environment. Throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const port = integer(env, 'PORT', 3000, 0, 65_535);
  const host = text(env, 'HOST') ?? '127.0.0.1';
  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  const secret = secretValue(env, 'STAMPEDE_SECRET');
  // A server or cluster node must never sell real tickets through the simulated gateway by
  // accident, and every node must sign with the same key: both are named explicitly there.
  if (databaseUrl !== undefined && text(env, 'PAYMENT_PROVIDER') === undefined) {
    throw new ConfigError('PAYMENT_PROVIDER',
      'is required with DATABASE_URL (set "stripe", or "simulated" for a test sale)');
  }
  if (databaseUrl !== undefined && secret === undefined) {
    throw new ConfigError('STAMPEDE_SECRET',
      'is required with DATABASE_URL (every node must sign tokens with the same key)');
  }
  const paymentProvider = oneOf(env, 'PAYMENT_PROVIDER', 'simulated', ['simulated', 'stripe']);
  const stripeSecretKey = text(env, 'STRIPE_SECRET_KEY');
  const stripeWebhookSecret = text(env, 'STRIPE_WEBHOOK_SECRET');
  if (paymentProvider === 'stripe' && stripeSecretKey === undefined) {
    throw new ConfigError('STRIPE_SECRET_KEY', 'is required when PAYMENT_PROVIDER=stripe');
  }
  if (paymentProvider === 'stripe' && stripeWebhookSecret === undefined) {
    throw new ConfigError('STRIPE_WEBHOOK_SECRET', 'is required when PAYMENT_PROVIDER=stripe');
  }
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:']);
  const databaseReadUrl = url(env, 'DATABASE_READ_URL', ['postgres:', 'postgresql:']);
  if (databaseReadUrl !== undefined && databaseUrl === undefined) {
    throw new ConfigError('DATABASE_READ_URL', 'needs DATABASE_URL (the primary) as well');
  }
  if (text(env, 'METRICS_ACCESS') === 'token' && text(env, 'METRICS_TOKEN') === undefined) {
    throw new ConfigError('METRICS_TOKEN', 'is required when METRICS_ACCESS=token');
  }
  const publicHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    port,
    host,
    databaseUrl,
    databaseReadUrl,
    redisUrl,
    redis: redisTarget(env, redisUrl),
    redisKeyPrefix: keyPrefix(env),
    dataDir: path.resolve(text(env, 'STAMPEDE_DATA_DIR') ?? './data'),
    pgliteThread: oneOf(env, 'STAMPEDE_PGLITE_THREAD', 'worker', ['main', 'worker']),
    webDir: optionalPath(text(env, 'STAMPEDE_WEB_DIR')),
    adminToken: secretValue(env, 'STAMPEDE_ADMIN_TOKEN'),
    secret,
    paymentProvider,
    stripeSecretKey,
    stripeWebhookSecret,
    stripe: {
      apiUrl: url(env, 'STRIPE_API_URL', ['http:', 'https:']),
      timeoutMs: integer(env, 'STRIPE_TIMEOUT_MS', 8_000, 100, 80_000),
      maxNetworkRetries: integer(env, 'STRIPE_MAX_NETWORK_RETRIES', 1, 0, 5),
    },
    paymentWindowSeconds: integer(env, 'PAYMENT_WINDOW_SECONDS', 900, 1, 86_400),
    publicUrl: url(env, 'PUBLIC_URL', ['http:', 'https:']) ?? `http://${publicHost}:${port}`,
    smtpUrl: url(env, 'SMTP_URL', ['smtp:', 'smtps:']),
    smtpFrom: text(env, 'SMTP_FROM') ?? 'Stampede <no-reply@stampede.invalid>',
    roles: roles(env),
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', [
      'fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent',
    ]),
    pg: {
      poolMax: integer(env, 'PG_POOL_MAX', 20, 1, 500),
      connectTimeoutMs: integer(env, 'PG_CONNECT_TIMEOUT_MS', 5_000, 100, 120_000),
      statementTimeoutMs: integer(env, 'PG_STATEMENT_TIMEOUT_MS', 15_000, 100, 600_000),
      lockTimeoutMs: integer(env, 'PG_LOCK_TIMEOUT_MS', 3_000, 10, 600_000),
      idleInTransactionTimeoutMs: integer(env, 'PG_IDLE_TX_TIMEOUT_MS', 30_000, 100, 600_000),
    },
    http: {
      requestTimeoutMs: integer(env, 'HTTP_REQUEST_TIMEOUT_MS', 30_000, 1_000, 600_000),
      writesPerIpPerMinute: integer(env, 'RATE_LIMIT_WRITES_PER_IP', 6_000, 1, 10_000_000),
      readsPerIpPerMinute: integer(env, 'RATE_LIMIT_READS_PER_IP', 12_000, 1, 10_000_000),
      publicReadCacheMs: integer(env, 'PUBLIC_READ_CACHE_MS', 1_000, 0, 60_000),
      statsCacheMs: integer(env, 'STATS_CACHE_MS', 1_000, 0, 60_000),
      webhooksPerIpPerMinute: integer(env, 'RATE_LIMIT_WEBHOOKS_PER_IP', 120_000, 1,
        100_000_000),
      authPerIpPerMinute: integer(env, 'RATE_LIMIT_AUTH_PER_IP', 600, 1, 10_000_000),
      loginsPerEmailPerQuarterHour: integer(env, 'RATE_LIMIT_LOGINS_PER_EMAIL', 10, 1, 10_000),
      bookingWritesPerCustomerPerMinute: integer(env, 'RATE_LIMIT_BOOKING_WRITES_PER_CUSTOMER',
        120, 1, 1_000_000),
      trustProxy: integer(env, 'TRUST_PROXY_HOPS', 0, 0, 10),
      logRequests: oneOf(env, 'LOG_REQUESTS',
        text(env, 'NODE_ENV') === 'production' ? 'false' : 'true', ['true', 'false']) === 'true',
      metricsAccess: oneOf(env, 'METRICS_ACCESS', 'public', ['public', 'token', 'off']),
      metricsToken: secretValue(env, 'METRICS_TOKEN'),
    },
    seedDemo: oneOf(env, 'STAMPEDE_SEED_DEMO', 'true', ['true', 'false']) === 'true',
    queue: queueConfig(env),
    live: liveConfig(env),
  };
}
