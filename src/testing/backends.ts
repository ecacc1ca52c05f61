/**
 * Contract-test backends: every storage test runs against embedded PGlite and, when it is
 * reachable (or required), a real PostgreSQL. Each opened PostgreSQL database is created
 * fresh for the caller and dropped on close, so test files never see each other's rows.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPgliteDb } from '../storage/pglite.js';
import { createPostgresDb } from '../storage/postgres.js';
import { migrate, type Db } from '../storage/index.js';
import { serviceAvailable, testDatabaseUrl } from './services.js';

export type BackendName = 'pglite' | 'postgres';

export interface TestBackend {
  name: BackendName;
  /** False when the service is down locally (suites skip); CI makes this throw instead. */
  available: boolean;
  /**
   * A fresh, migrated database; closing it also drops it. `lockTimeoutMs` (PostgreSQL only,
   * default 10 s) is the pool's `lock_timeout`.
   */
  open(options?: { poolMax?: number; lockTimeoutMs?: number }): Promise<Db>;
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: testDatabaseUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function openPostgres(poolMax: number, lockTimeoutMs = 10_000): Promise<Db> {
  const name = `stampede_t_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(testDatabaseUrl);
  url.pathname = `/${name}`;
  const db = createPostgresDb({
    url: url.toString(), poolMax, connectTimeoutMs: 5_000, statementTimeoutMs: 30_000,
    lockTimeoutMs, idleInTransactionTimeoutMs: 30_000,
  });
  await migrate(db);
  return {
    ...db,
    async close() {
      await db.close();
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

async function openPglite(): Promise<Db> {
  // TEST_PGLITE_THREAD=worker runs the embedded suites on PGlite in a worker thread.
  const db = await createPgliteDb(undefined,
    { thread: process.env.TEST_PGLITE_THREAD === 'worker' });
  await migrate(db);
  return db;
}

let cached: TestBackend[] | undefined;

/** The backends to run contract suites on (checks PostgreSQL reachability once per file). */
export async function testBackends(): Promise<TestBackend[]> {
  if (cached !== undefined) return cached;
  const postgresUp = await serviceAvailable('PostgreSQL', testDatabaseUrl);
  cached = [
    { name: 'pglite', available: true, open: () => openPglite() },
    { name: 'postgres', available: postgresUp, open: (o) => openPostgres(o?.poolMax ?? 20, o?.lockTimeoutMs) },
  ];
  return cached;
}
