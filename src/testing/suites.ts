/**
 * Suites on a database of their own. The contract suites run once per backend (PGlite and
 * PostgreSQL); the PostgreSQL-only race suites need several transactions at once (PGlite
 * serialises them), so they run on PostgreSQL alone. A suite skips when its backend is
 * down locally; CI (STAMPEDE_REQUIRE_SERVICES=1) fails in testBackends() instead.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import type { AppContext } from '../context.js';
import type { Db } from '../storage/index.js';
import type { BackendName, TestBackend } from './backends.js';
import { buildTestContext } from './context.js';

/** A suite's database and context: open from its beforeAll until its afterAll. */
export interface SuiteDb {
  readonly db: Db;
  readonly ctx: AppContext;
}

/** How a suite's database is opened (PostgreSQL only; PGlite has one connection). */
export interface SuiteOptions {
  /** The pool's size; the backend's default (20) when left out. */
  poolMax?: number;
}

/**
 * A describe block on a fresh database from `backend` (dropped after its last test), with a
 * default test context over it, skipped when the backend is missing or unavailable.
 */
function describeOn(
  backend: TestBackend | undefined, title: string, options: SuiteOptions,
  body: (suite: SuiteDb) => void,
): void {
  describe.skipIf(backend === undefined || !backend.available)(title, () => {
    let db: Db | undefined;
    let ctx: AppContext | undefined;
    const opened = <T>(value: T | undefined): T => {
      // Read at collection time (outside a hook or test) there is nothing open yet.
      if (value === undefined) throw new Error(`${title}: the suite's database is not open`);
      return value;
    };
    beforeAll(async () => {
      db = await (backend as TestBackend).open(options);
      ctx = buildTestContext(db);
    });
    afterAll(async () => db?.close());
    body({ get db() { return opened(db); }, get ctx() { return opened(ctx); } });
  });
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
  describeOn(postgres, title, options, body);
}

/**
 * The same describe block once per backend, each on a fresh database of its own with a
 * default test context, titled by `title(name)`; each is skipped exactly when its backend
 * is unavailable. The body reads `suite.db` and `suite.ctx` as in describePostgres, and
 * `backend` for what differs between them.
 */
export function describeEachBackend(
  backends: readonly TestBackend[], title: (name: BackendName) => string,
  options: SuiteOptions, body: (suite: SuiteDb, backend: TestBackend) => void,
): void {
  for (const backend of backends) {
    describeOn(backend, title(backend.name), options, (suite) => body(suite, backend));
  }
}
