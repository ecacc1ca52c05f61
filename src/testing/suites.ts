/**
 * Suites on a database of their own. The PostgreSQL-only race suites need several
 * transactions at once (PGlite serialises them), so they run on PostgreSQL alone and skip
 * when it is down locally; CI (STAMPEDE_REQUIRE_SERVICES=1) fails in testBackends() instead.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import type { AppContext } from '../context.js';
import type { Db } from '../storage/index.js';
import type { TestBackend } from './backends.js';
import { buildTestContext } from './context.js';

/** A suite's database and context: open from its beforeAll until its afterAll. */
export interface SuiteDb {
  readonly db: Db;
  readonly ctx: AppContext;
}

/**
 * A describe block on a fresh PostgreSQL database (dropped after its last test), with a
 * default test context over it. Skipped exactly when `backends` has no reachable PostgreSQL.
 * The body reads `suite.db` and `suite.ctx` inside hooks and tests, where they are open;
 * hooks it adds run after the open and (stacked) before the close.
 */
export function describePostgres(
  backends: readonly TestBackend[], title: string, options: { poolMax: number },
  body: (suite: SuiteDb) => void,
): void {
  const postgres = backends.find((backend) => backend.name === 'postgres');
  describe.skipIf(postgres === undefined || !postgres.available)(title, () => {
    let db: Db | undefined;
    let ctx: AppContext | undefined;
    const opened = <T>(value: T | undefined): T => {
      // Read at collection time (outside a hook or test) there is nothing open yet.
      if (value === undefined) throw new Error(`${title}: the suite's database is not open`);
      return value;
    };
    beforeAll(async () => {
      db = await (postgres as TestBackend).open(options);
      ctx = buildTestContext(db);
    });
    afterAll(async () => db?.close());
    body({ get db() { return opened(db); }, get ctx() { return opened(ctx); } });
  });
}
