/** The server backend: a node-postgres pool with timeouts on everything. */
import pg from 'pg';
import type { Db, Queryable, QueryResult, TxOptions } from './db.js';
import { withRetry } from './db.js';

export interface PostgresOptions {
  url: string;
  poolMax: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  lockTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
  onError?: (error: Error) => void;
}

const int8Oid = 20;

// Counts come back as int8; every count here fits a double, so parse them to numbers to
// match PGlite. Scoped to our pool instead of mutating pg's global parsers.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === int8Oid && format !== 'binary') return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
};

function wrap(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
      const result = await client.query(sql, params);
      return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
    },
    async exec(sql: string): Promise<void> {
      await client.query(sql);
    },
  };
}

/** Opens a pool. node-postgres sets no timeouts by default; a stalled database must fail fast. */
export function createPostgresDb(options: PostgresOptions): Db {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax,
    connectionTimeoutMillis: options.connectTimeoutMs,
    statement_timeout: options.statementTimeoutMs,
    lock_timeout: options.lockTimeoutMs,
    idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs,
    query_timeout: options.statementTimeoutMs + 1_000,
    idleTimeoutMillis: 30_000,
    types,
    // No JIT compile on our connections: every statement here is short, but at seed scale
    // the planner's estimates pass jit_above_cost and PostgreSQL then compiles the plan on
    // every call. The waitlist's move batch spent ~70 ms of a 75 ms call compiling
    // (docs/benchmarks-journal.md, "The waitlist herd without a JIT compile per batch").
    // Set per session as the pool opens a connection (awaited before the pool hands it
    // out), not by the `options` startup parameter, which would replace an operator's
    // `?options=` or PGOPTIONS. A failure ends that connection and fails its acquirer.
    onConnect: async (client) => {
      await client.query('SET jit = off');
    },
  });
  // An idle client losing its connection must not crash the process.
  pool.on('error', (error) => options.onError?.(error));
  const queryable = wrap(pool);

  async function runOnce<T>(work: (tx: Queryable) => Promise<T>, opts: TxOptions): Promise<T> {
    const client = await pool.connect();
    let broken = false;
    // While checked out, a client has no pool listener: a server that ends the session
    // between two statements (a primary dying, an admin terminate) would otherwise raise
    // an unhandled 'error' and take the whole node down. Mark it broken instead.
    const onError = (error: Error): void => {
      broken = true;
      options.onError?.(error);
    };
    client.on('error', onError);
    try {
      await client.query(`BEGIN ISOLATION LEVEL ${(opts.isolation ?? 'read committed').toUpperCase()}`);
      const result = await work(wrap(client));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw error;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  return {
    kind: 'postgres',
    query: queryable.query,
    exec: queryable.exec,
    tx: (work, opts = {}) => withRetry(() => runOnce(work, opts), opts.maxAttempts ?? 5),
    async ping() {
      await pool.query('SELECT 1');
    },
    async close() {
      await pool.end();
    },
    poolStats: () => ({
      total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount,
    }),
  };
}
