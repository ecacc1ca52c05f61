/**
 * The storage interface: the two things the domain needs from PostgreSQL — a query, and a
 * transaction that is retried when PostgreSQL aborts it for a serialization failure or a
 * deadlock. PGlite (embedded) and node-postgres (server) both implement it.
 */

/** Result of one statement. `rowCount` is the number of rows returned or changed. */
export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

/** Anything statements can run on: the database, or an open transaction. */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export type Isolation = 'read committed' | 'repeatable read' | 'serializable';

export interface TxOptions {
  isolation?: Isolation;
  /** Attempts before a retryable failure is given up on (default 5). */
  maxAttempts?: number;
}

/** A database handle with transactions. */
export interface Db extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /**
   * Runs `work` in one transaction. On serialization failure (40001) or deadlock (40P01) the
   * whole function is run again, so it must not have side effects outside the database.
   */
  tx<T>(work: (tx: Queryable) => Promise<T>, options?: TxOptions): Promise<T>;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Connection pool figures for metrics (PostgreSQL only). */
  poolStats?(): { total: number; idle: number; waiting: number };
}

const retryableCodes = new Set(['40001', '40P01']);

/** True for errors after which re-running the whole transaction may succeed. */
export function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && retryableCodes.has(code);
}

/**
 * SQLSTATEs of a database too busy to answer now, where the same request may succeed a moment
 * later and nothing was written: a lock not granted within `lock_timeout` (55P03), a statement
 * cancelled by `statement_timeout` (57014), no connection slot or a server still starting
 * (53300, 57P03), and a serialization failure or deadlock left after the transaction's own
 * retries (40001, 40P01).
 */
const busyCodes = new Set(['55P03', '57014', '53300', '57P03', '40001', '40P01']);

/**
 * True when the database was too busy to answer, not wrong: a lock or statement timeout, no
 * free connection (node-postgres's pool gives up waiting for one with this message), or a
 * retryable failure its retries did not clear. The request changed nothing and may be sent
 * again; HTTP answers it 503 with `Retry-After`, not as an internal error.
 */
export function isDatabaseBusy(error: unknown): boolean {
  const code = sqlState(error);
  if (code !== undefined && busyCodes.has(code)) return true;
  const message = (error as { message?: unknown } | null)?.message;
  return message === 'timeout exceeded when trying to connect';
}

/** PostgreSQL SQLSTATE of an error, if it has one. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Runs `attempt` until it succeeds, fails for a non-retryable reason, or attempts run out. */
export async function withRetry<T>(attempt: () => Promise<T>, maxAttempts: number): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isRetryable(error) || n >= maxAttempts) throw error;
      // Jittered backoff so the transactions that collided do not collide again.
      const delayMs = Math.random() * 5 * 2 ** n;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
