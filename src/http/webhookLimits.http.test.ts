/**
 * Payment webhooks are exempt from the per-address write limit (in a big sale a provider
 * sends thousands from a few addresses, and a refused webhook may be dropped), and have a
 * budget of their own, and a body limit of their own (64 KiB) whatever the content type
 * says. Each test builds its own app with tiny limits.
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

  it('reads at most 64 KiB of a webhook body, whatever its content type', async () => {
    const app = await appWith({});
    const post = (contentType: string, bytes: number) => app.inject({ method: 'POST',
      url: '/api/v1/payments/webhooks/simulated',
      headers: { 'content-type': contentType, 'stampede-signature': 't=1,v1=00' },
      payload: `"${'x'.repeat(bytes - 2)}"` });
    // Within the limit: read, and refused for its signature.
    expect((await post('application/json', 60 * 1024)).statusCode).toBe(400);
    // Past it: refused before it is read to the end, as JSON or as text (whose app-wide
    // parser reads up to 1 MiB); a type nothing parses is refused unread.
    const statuses = [];
    for (const contentType of ['application/json', 'text/plain', 'application/octet-stream']) {
      const response = await post(contentType, 200 * 1024);
      statuses.push([contentType, response.statusCode, response.json().code]);
    }
    expect(statuses).toEqual([
      ['application/json', 413, 'payload_too_large'],
      ['text/plain', 413, 'payload_too_large'],
      ['application/octet-stream', 415, 'unsupported_media_type'],
    ]);
  });
});
