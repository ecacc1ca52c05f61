/** /metrics exposure is configurable: public, behind a token, or off. */
import { describe, expect, it } from 'vitest';
import { appsPerTest } from '../testing/apps.js';
import type { App } from './types.js';

describe('metrics exposure', () => {
  const built = appsPerTest();
  const appWith = async (env: Record<string, string>) => (await built(env)).app;
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
