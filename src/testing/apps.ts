/**
 * Apps built per test on a fresh embedded database each, closed after the test: for tests
 * that need their own configuration (tiny rate limits, metrics exposure) and no shared state.
 */
import { afterEach } from 'vitest';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import type { Db } from '../storage/index.js';
import { testBackends } from './backends.js';
import { buildTestApp } from './context.js';

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
