/**
 * Payment webhooks are exempt from the per-address write limit (in a big sale a provider
 * sends thousands from a few addresses, and a refused webhook may be dropped), and have a
 * budget of their own. Each test builds its own app with tiny limits.
 */
import { describe, expect, it } from 'vitest';
import type { App } from './types.js';
import { appsPerTest } from '../testing/apps.js';

describe('webhook rate limits', () => {
  const built = appsPerTest();
  const appWith = async (env: Record<string, string>) => (await built(env)).app;

  const webhook = (app: App) => app.inject({ method: 'POST',
    url: '/api/v1/payments/webhooks/simulated',
    headers: { 'content-type': 'application/json', 'stampede-signature': 't=1,v1=00' },
    payload: '{}' });
  const write = (app: App) => app.inject({ method: 'POST', url: '/api/v1/sessions',
    payload: { email: 'nobody@example.com', password: 'not the password' } });

  it('does not count webhooks against the per-address write limit', async () => {
    const app = await appWith({ RATE_LIMIT_WRITES_PER_IP: '3' });
    const statuses = [];
    for (let i = 0; i < 10; i++) statuses.push((await webhook(app)).statusCode);
    expect(statuses).toEqual(Array(10).fill(400)); // signature refused, never rate limited
    // Control: the same address's other writes are limited as configured.
    const writes = [];
    for (let i = 0; i < 4; i++) writes.push((await write(app)).statusCode);
    expect(writes).toEqual([401, 401, 401, 429]);
  });

  it('caps webhooks per address with their own budget', async () => {
    const app = await appWith({ RATE_LIMIT_WEBHOOKS_PER_IP: '5' });
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await webhook(app)).statusCode);
    expect(statuses).toEqual([400, 400, 400, 400, 400, 429]);
    const limited = await webhook(app);
    expect(limited.json().code).toBe('rate_limited');
    expect(limited.headers['retry-after']).toBeDefined();
    // The rate limiter refuses in its own hook, before the handler: still counted, by route.
    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toContain('stampede_http_requests_total{method="POST",'
      + 'route="/api/v1/payments/webhooks/:provider",status="429"} 2\n');
  });
});
