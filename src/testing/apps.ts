/**
 * Test apps and their lifetimes: one per suite over a backend's fresh database, with the
 * simulated gateway (the usual HTTP test), or one per test on a fresh embedded database
 * each (tests that need their own configuration and no shared state).
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import type { SimulatedGateway } from '../payments/simulated.js';
import type { Db } from '../storage/index.js';
import { testBackends, type TestBackend } from './backends.js';
import { buildTestApp, type TestContextOptions } from './context.js';
import { installTestGateway } from './payments.js';

/** What a suite's app is made of. */
export interface SuiteApp {
  db: Db;
  app: App;
  ctx: AppContext;
  gateway: SimulatedGateway;
}

/**
 * Before the suite: a fresh database of `backend`, an app over it (`options`) and a
 * manual-mode simulated gateway, handed to `ready` (which keeps them for the tests); after
 * it, all three closed.
 */
export function appPerSuite(
  backend: TestBackend, ready: (suite: SuiteApp) => void, options: TestContextOptions = {},
): void {
  let suite: Partial<SuiteApp> = {};
  beforeAll(async () => {
    const db = await backend.open();
    suite = { db };
    const { app, ctx } = await buildTestApp(db, options);
    suite = { db, app, ctx, gateway: installTestGateway(app, ctx) };
    ready(suite as SuiteApp);
  });
  afterAll(async () => {
    await suite.gateway?.close();
    await suite.app?.close();
    await suite.db?.close();
  });
}

/** Returns `appWith(env)`; every app it built is closed, with its database, after each test. */
export function appsPerTest(): (env?: Record<string, string>) => Promise<{
  app: App; ctx: AppContext; db: Db;
}> {
  const open: { db: Db; app: App }[] = [];
  afterEach(async () => {
    for (const { db, app } of open.splice(0)) {
      await app.close();
      await db.close();
    }
  });
  return async (env = {}) => {
    const [pglite] = await testBackends();
    const db = await (pglite as NonNullable<typeof pglite>).open();
    const { app, ctx } = await buildTestApp(db, { env });
    open.push({ db, app });
    return { app, ctx, db };
  };
}
