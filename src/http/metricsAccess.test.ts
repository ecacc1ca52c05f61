/** /metrics exposure is configurable: public, behind a token, or off. */
import { afterEach, describe, expect, it } from 'vitest';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import type { App } from './types.js';

const [pglite] = await testBackends();

describe('metrics exposure', () => {
  const open: { db: Db; app: App }[] = [];
  afterEach(async () => {
    for (const { db, app } of open.splice(0)) {
      await app.close();
      await db.close();
    }
  });
  async function appWith(env: Record<string, string>): Promise<App> {
    const db = await (pglite as NonNullable<typeof pglite>).open();
    const { app } = await buildTestApp(db, { env });
    open.push({ db, app });
    return app;
  }
  const scrape = (app: App, token?: string) => app.inject({ method: 'GET', url: '/metrics',
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

  it('is public by default', async () => {
    const app = await appWith({});
    expect((await scrape(app)).statusCode).toBe(200);
  });

  it('asks for the metrics token when told to', async () => {
    const token = 'metrics-token-0123456789';
    const app = await appWith({ METRICS_ACCESS: 'token', METRICS_TOKEN: token });
    expect((await scrape(app)).statusCode).toBe(401);
    expect((await scrape(app, 'wrong-token-0123456789')).statusCode).toBe(401);
    const ok = await scrape(app, token);
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('stampede_http_requests_total');
  });

  it('can be switched off', async () => {
    const app = await appWith({ METRICS_ACCESS: 'off' });
    expect((await scrape(app)).statusCode).toBe(404);
  });
});
