/** Opens the configured database: PostgreSQL when DATABASE_URL is set, else embedded PGlite. */
import path from 'node:path';
import type { Config } from '../config/index.js';
import type { Db } from './db.js';
import { createPgliteDb } from './pglite.js';
import { createPostgresDb } from './postgres.js';

export type { Db, Queryable, QueryResult, TxOptions, Isolation } from './db.js';
export { isDatabaseBusy, isRetryable, sqlState } from './db.js';
export { migrate } from './migrate.js';

/** Opens the database the configuration names (does not migrate). */
export async function openDb(config: Config, onError?: (error: Error) => void): Promise<Db> {
  if (config.databaseUrl !== undefined) {
    return createPostgresDb({ url: config.databaseUrl, ...config.pg, onError });
  }
  return await createPgliteDb(path.join(config.dataDir, 'pglite'),
    { thread: config.pgliteThread === 'worker' });
}
