/**
 * The embedded backend: PostgreSQL compiled to WebAssembly, in this process. It has one
 * connection, so transactions are serialized by PGlite itself; isolation levels are moot.
 */
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { Db, Queryable, QueryResult } from './db.js';
import { withRetry } from './db.js';

interface PgliteLike {
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[]; affectedRows?: number }>;
  exec(sql: string): Promise<unknown>;
}

function wrap(client: PgliteLike): Queryable {
  return {
    async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
      const result = await client.query<T>(sql, params);
      const changed = result.affectedRows ?? 0;
      return { rows: result.rows, rowCount: result.rows.length > 0 ? result.rows.length : changed };
    },
    async exec(sql: string): Promise<void> {
      await client.exec(sql);
    },
  };
}

/** Opens PGlite stored in `dataDir`, or in memory when `dataDir` is undefined. */
export async function createPgliteDb(dataDir: string | undefined): Promise<Db> {
  if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true });
  const pglite = await PGlite.create(dataDir === undefined ? undefined : dataDir);
  const queryable = wrap(pglite);
  return {
    kind: 'pglite',
    query: queryable.query,
    exec: queryable.exec,
    tx: (work, opts = {}) =>
      withRetry(() => pglite.transaction((tx) => work(wrap(tx))), opts.maxAttempts ?? 5),
    async ping() {
      await pglite.query('SELECT 1');
    },
    async close() {
      await pglite.close();
    },
  };
}
