/**
 * Leases that survive a Redis outage: Redis first, PostgreSQL when Redis cannot be reached.
 *
 * A singleton duty (admission ticks, sweeps and reconciliation, the outbox relay) used to
 * stop for as long as Redis was down, because its lease lived only there. PostgreSQL is up
 * whenever the duties can do anything at all (they write nothing else), so it is the
 * fallback:
 *
 * - **Fallback lease**: a session advisory lock, `pg_try_advisory_lock(hash(name))`, held
 *   on a connection of its own (not the pool: a session lock belongs to its connection).
 *   PostgreSQL drops it when that connection ends, so a dead node's lease ends with its
 *   socket (TCP keepalive bounds how long a vanished peer keeps it).
 * - **One fence across both stores**: every token in use is recorded in `lease_fences`
 *   (one row per lease name). A fallback token is `greatest(nextval(lease_fence_seq),
 *   recorded + 1)`; a Redis acquire asks Redis for at least recorded + 1 and then records
 *   its token only if it is strictly the highest (else it gives the lease back). So tokens
 *   strictly increase whichever store issued them, and the fenced writes (queue_state,
 *   the outbox fence) refuse a stale leader of either store.
 * - **No split brain by design, fencing as the net**: a Redis acquire also takes the
 *   advisory lock for the length of the recording transaction (`pg_try_advisory_xact_lock`)
 *   and backs off if a fallback leader holds it; a Redis leader steps down at its next
 *   renewal when the recorded token is no longer its own; a fallback leader steps down as
 *   soon as Redis answers again, so leadership returns to Redis within one renewal.
 */
import pg from 'pg';

import type { Db } from '../storage/index.js';
import type { Coordinator, CoordLogger, LeaseStore } from './types.js';

/** Options of the failover lease store. */
export interface FailoverLeaseOptions {
  /** The coordinator whose leases are used while it answers. */
  coord: Coordinator;
  /** The primary database (pool), for the fence records. */
  db: Db;
  /** URL for the dedicated lock connections (the primary's). */
  databaseUrl: string;
  logger: CoordLogger;
  /** Connect timeout of a lock connection; default 2 s. */
  connectTimeoutMs?: number;
}

interface Held {
  store: 'redis' | 'postgres';
  holderId: string;
  token: number;
}

const lockKey = (name: string): string => `stampede-lease:${name}`;

/** A lease store: Redis while it answers, a PostgreSQL advisory lock when it does not. */
export class FailoverLeases implements LeaseStore {
  private readonly held = new Map<string, Held>();
  private readonly clients = new Map<string, pg.Client>();

  constructor(private readonly options: FailoverLeaseOptions) {}

  /** Which store holds a lease this node leads, if any (metrics, tests). */
  storeOf(name: string): 'redis' | 'postgres' | undefined {
    return this.held.get(name)?.store;
  }

  async acquireLease(name: string, holderId: string, ttlMs: number): Promise<number | null> {
    const mine = this.held.get(name);
    if (mine?.store === 'postgres' && mine.holderId === holderId) {
      if (this.clients.has(name)) return mine.token;
      this.held.delete(name); // its connection, and so its lock, is gone
    }
    const recorded = await this.recorded(name);
    let token: number | null;
    try {
      token = await this.options.coord.acquireLease(name, holderId, ttlMs, recorded + 1);
    } catch (err) {
      this.options.logger.warn({ err, lease: name }, 'Redis lease unavailable; trying PostgreSQL');
      return await this.acquireFallback(name, holderId);
    }
    if (token === null) return null;
    if (!(await this.recordRedisToken(name, holderId, token))) {
      await this.options.coord.releaseLease(name, holderId, token).catch(() => undefined);
      return null;
    }
    this.held.set(name, { store: 'redis', holderId, token });
    return token;
  }

  async renewLease(name: string, holderId: string, token: number, ttlMs: number):
    Promise<boolean> {
    const mine = this.held.get(name);
    if (mine === undefined || mine.holderId !== holderId || mine.token !== token) return false;
    if (mine.store === 'redis') {
      const renewed = await this.options.coord.renewLease(name, holderId, token, ttlMs);
      // A fallback leader took over with a newer token while this node still reached Redis
      // (a partial partition): step down rather than be fenced round after round.
      if (renewed && (await this.recorded(name)) === token) return true;
      this.held.delete(name);
      if (renewed) await this.options.coord.releaseLease(name, holderId, token).catch(() => 0);
      return false;
    }
    // Fallback: give it back as soon as Redis answers, so leadership returns to Redis.
    const redisUp = await this.options.coord.ping().then(() => true, () => false);
    const client = this.clients.get(name);
    const alive = client !== undefined && !redisUp && await client.query(
      'SELECT token FROM lease_fences WHERE name = $1', [name],
    ).then((r) => Number(r.rows[0]?.token) === token, () => false);
    if (alive) return true;
    await this.releaseFallback(name);
    return false;
  }

  async releaseLease(name: string, holderId: string, token: number): Promise<void> {
    const mine = this.held.get(name);
    if (mine === undefined || mine.holderId !== holderId || mine.token !== token) return;
    if (mine.store === 'redis') {
      this.held.delete(name);
      await this.options.coord.releaseLease(name, holderId, token);
      return;
    }
    await this.releaseFallback(name);
  }

  async forget(name: string): Promise<void> {
    await this.releaseFallback(name);
  }

  /** The highest token recorded for a lease (0 when none). */
  private async recorded(name: string): Promise<number> {
    const { rows } = await this.options.db.query<{ token: string }>(
      'SELECT token FROM lease_fences WHERE name = $1', [name],
    );
    return Number(rows[0]?.token ?? 0);
  }

  /**
   * Records a Redis token if it is strictly the highest and no fallback leader holds the
   * advisory lock; false otherwise (the caller gives the Redis lease back).
   */
  private async recordRedisToken(name: string, holderId: string, token: number):
    Promise<boolean> {
    return await this.options.db.tx(async (tx) => {
      const { rows: [lock] } = await tx.query<{ free: boolean }>(
        'SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS free', [lockKey(name)],
      );
      if (lock?.free !== true) return false;
      const { rowCount } = await tx.query(
        `INSERT INTO lease_fences (name, token, store, holder) VALUES ($1, $2, 'redis', $3)
         ON CONFLICT (name) DO UPDATE
            SET token = EXCLUDED.token, store = 'redis', holder = EXCLUDED.holder,
                issued_at = now()
          WHERE lease_fences.token < EXCLUDED.token
             OR (lease_fences.token = EXCLUDED.token AND lease_fences.store = 'redis'
                 AND lease_fences.holder = EXCLUDED.holder)`,
        [name, token, holderId],
      );
      return rowCount === 1;
    });
  }

  private async acquireFallback(name: string, holderId: string): Promise<number | null> {
    const client = await this.client(name);
    const { rows: [lock] } = await client.query<{ got: boolean }>(
      'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS got', [lockKey(name)],
    );
    if (lock?.got !== true) return null;
    try {
      const { rows: [row] } = await client.query<{ token: string }>(
        `INSERT INTO lease_fences (name, token, store, holder)
         VALUES ($1, nextval('lease_fence_seq'), 'postgres', $2)
         ON CONFLICT (name) DO UPDATE
            SET token = greatest(lease_fences.token + 1, EXCLUDED.token), store = 'postgres',
                holder = EXCLUDED.holder, issued_at = now()
         RETURNING token`,
        [name, holderId],
      );
      const token = Number(row?.token);
      this.held.set(name, { store: 'postgres', holderId, token });
      this.options.logger.warn({ lease: name, token }, 'lease held in PostgreSQL (Redis down)');
      return token;
    } catch (err) {
      await this.releaseFallback(name);
      throw err;
    }
  }

  /** Ends the lock connection of a lease: the advisory lock goes with it. */
  private async releaseFallback(name: string): Promise<void> {
    if (this.held.get(name)?.store === 'postgres') this.held.delete(name);
    const client = this.clients.get(name);
    if (client === undefined) return;
    this.clients.delete(name);
    await client.end().catch(() => undefined);
  }

  private async client(name: string): Promise<pg.Client> {
    const existing = this.clients.get(name);
    if (existing !== undefined) return existing;
    const client = new pg.Client({
      connectionString: this.options.databaseUrl,
      connectionTimeoutMillis: this.options.connectTimeoutMs ?? 2_000,
      keepAlive: true,
      application_name: `stampede-lease:${name}`,
    });
    client.on('error', (err) => {
      // The connection died: so did the lock. The next renewal notices and steps down.
      this.options.logger.warn({ err, lease: name }, 'lease connection lost');
      if (this.clients.get(name) === client) this.clients.delete(name);
    });
    await client.connect();
    this.clients.set(name, client);
    return client;
  }
}
