/** The HTTP shell: docs, ops endpoints, metrics, error shapes, auth and rate limits. */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limits } from '../config/limits.js';
import { createMemoryCoordinator } from '../coord/memory.js';
import type { Coordinator } from '../coord/types.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp, buildTestContext } from '../testing/context.js';
import { buildApp } from './app.js';
import type { App } from './types.js';

const [pglite] = await testBackends();

describe('HTTP application', () => {
  let db: Db;
  let app: App;

  beforeAll(async () => {
    db = await (pglite as NonNullable<typeof pglite>).open();
    ({ app } = await buildTestApp(db));
  });
  afterAll(async () => {
    await app?.close();
    await db?.close();
  });

  it('serves an OpenAPI 3.1 document generated from the route schemas', async () => {
    const response = await app.inject({ url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    const doc = response.json();
    expect(doc.openapi).toBe('3.1.0');
    for (const path of ['/api/v1/customers', '/api/v1/sessions', '/api/v1/venues',
      '/api/v1/events', '/api/v1/events/{eventId}', '/api/v1/events/{eventId}/seatmap']) {
      expect(doc.paths[path], path).toBeDefined();
    }
    const register = doc.paths['/api/v1/customers'].post;
    expect(register.requestBody.content['application/json'].schema.additionalProperties)
      .toBe(false);
    expect(doc.components.securitySchemes.bearerAuth.scheme).toBe('bearer');
  });

  it('serves the API browser at /docs', async () => {
    const response = await app.inject({ url: '/docs/' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/html');
  });

  it('answers liveness and readiness', async () => {
    expect((await app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', database: 'ok', coordination: 'ok' });
  });

  it('exposes per-route request counts and latency histograms', async () => {
    await app.inject({ url: '/api/v1/events' });
    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(
      /stampede_http_requests_total\{method="GET",route="\/api\/v1\/events",status="200"\} \d+/,
    );
    expect(metrics).toContain('stampede_http_request_duration_seconds_bucket');
    expect(metrics).toContain('process_cpu_user_seconds_total');
  });

  it('counts every request once, by route pattern, method and status', async () => {
    // Its own app: the counts below are exact.
    const { app } = await buildTestApp(db);
    const eventId = '00000000-0000-4000-8000-000000000000';
    for (let i = 0; i < 3; i++) await app.inject({ url: `/api/v1/events/${eventId}` });
    await app.inject({ method: 'HEAD', url: '/healthz' });
    await app.inject({ url: '/healthz' });
    // Not a route (GETs of unknown paths meet the web app's fallback route instead).
    await app.inject({ method: 'POST', url: '/api/v1/no/such/route', payload: {} });
    await app.inject({ method: 'POST', url: `/api/v1/events/${eventId}/queue`, payload: {} });
    const text = (await app.inject({ url: '/metrics' })).body;
    const sample = (series: string): number | undefined => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    const expected: [string, string, number, number][] = [
      ['GET', '/api/v1/events/:eventId', 404, 3],
      ['HEAD', '/healthz', 200, 1],
      ['GET', '/healthz', 200, 1],
      ['POST', 'unmatched', 404, 1],
      ['POST', '/api/v1/events/:eventId/queue', 401, 1],
    ];
    for (const [method, route, status, count] of expected) {
      const labels = `{method="${method}",route="${route}",status="${status}"}`;
      expect(sample(`stampede_http_requests_total${labels}`), labels).toBe(count);
      expect(sample(`stampede_http_request_duration_seconds_count${labels}`), labels)
        .toBe(count);
    }
    const total = (name: string): number => text.split('\n')
      .filter((l) => l.startsWith(`${name}{`)).reduce((sum, l) => sum + Number(l.split(' ')[1]), 0);
    expect(total('stampede_http_requests_total')).toBe(7);
    expect(total('stampede_http_request_duration_seconds_count')).toBe(7);
    await app.close();
  });

  it('counts requests no route answered under one label, never their URL', async () => {
    // Its own app: the counts below are exact.
    const { app } = await buildTestApp(db);
    const tokens = Array.from({ length: 5 }, () => randomUUID());
    // Not found: a write to random paths (GETs meet the web app's fallback route instead).
    for (const token of tokens) {
      const response = await app.inject({ method: 'POST', url: `/api/v1/${token}/x?q=${token}` });
      expect(response.statusCode).toBe(404);
    }
    // Too large, refused by the body parser before the handler runs.
    const tooLarge = await app.inject({
      method: 'POST', url: '/api/v1/customers', headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ email: 'a'.repeat(limits.bodyBytes) }),
    });
    expect(tooLarge.statusCode).toBe(413);
    // A URL the router cannot decode: answered before routing, by no hook at all.
    for (const token of tokens.slice(0, 2)) {
      const response = await app.inject({ url: `/api/v1/events/${token}%zz` });
      expect(response.statusCode).toBe(400);
    }
    const text = (await app.inject({ url: '/metrics' })).body;
    const series = text.split('\n')
      .filter((line) => line.startsWith('stampede_http_requests_total{'));
    const count = (labels: string): number | undefined => {
      const line = series.find((l) => l.startsWith(`stampede_http_requests_total${labels} `));
      return line === undefined ? undefined : Number(line.split(' ')[1]);
    };
    expect(count('{method="POST",route="unmatched",status="404"}')).toBe(5);
    expect(count('{method="POST",route="/api/v1/customers",status="413"}')).toBe(1);
    expect(count('{method="GET",route="unmatched",status="400"}')).toBe(2);
    // Bounded: one series per method, route pattern and status, and no URL in any label.
    expect(series).toHaveLength(3);
    for (const token of tokens) expect(text).not.toContain(token);
    const durations = text.split('\n').filter((line) =>
      line.startsWith('stampede_http_request_duration_seconds_count{'));
    expect(durations).toHaveLength(3);
    await app.close();
  });

  it('compresses large seat maps when the client accepts gzip', async () => {
    const ctx = buildTestContext(db);
    const { buildEvent } = await import('../testing/factories.js');
    const event = await buildEvent(ctx);
    const response = await app.inject({
      url: `/api/v1/events/${event.eventId}/seatmap`, headers: { 'accept-encoding': 'gzip' },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-encoding']).toBe('gzip');
  });

  it('answers unknown routes with a not_found problem', async () => {
    const response = await app.inject({ url: '/api/v1/nothing-here' });
    expect(response.statusCode).toBe(404);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json()).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('echoes a request id for correlation', async () => {
    const response = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'abc-123' } });
    expect(response.headers['x-request-id']).toBe('abc-123');
    const generated = await app.inject({ url: '/healthz' });
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    // On refusals too: not found, a problem from a route's hook, a URL the router refused,
    // a body that does not parse.
    const badJson = { method: 'POST' as const, url: '/api/v1/sessions', payload: '{"email"',
      headers: { 'content-type': 'application/json' } };
    const refusals: { url: string; headers?: Record<string, string> }[] = [
      { url: '/api/v1/no/such/route' }, { url: '/api/v1/me/orders' },
      { url: '/api/v1/%E0%A4%A' }, badJson];
    for (const request of refusals) {
      const refused = await app.inject({
        ...request, headers: { ...request.headers, 'x-request-id': 'def-456' },
      });
      expect(refused.statusCode, request.url).toBeGreaterThanOrEqual(400);
      expect(refused.headers['content-type'], request.url).toContain('application/problem+json');
      expect(refused.headers['x-request-id'], request.url).toBe('def-456');
    }
  });
});

describe('HTTP failure modes', () => {
  let db: Db;
  beforeAll(async () => {
    db = await (pglite as NonNullable<typeof pglite>).open();
  });
  afterAll(async () => db?.close());

  it('reports not ready when coordination is down', async () => {
    const broken: Coordinator = {
      ...createMemoryCoordinator({}),
      ping: async () => {
        throw new Error('connection refused');
      },
    };
    const { app } = await buildTestApp(db, { coord: broken });
    const response = await app.inject({ url: '/readyz' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ status: 'not_ready', coordination: 'down' });
    await app.close();
  });

  it('answers unexpected errors with a bare 500 that leaks nothing, and logs them', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const ctx = { ...buildTestContext(db), logger: pino({ level: 'error' }, sink) };
    const app = await buildApp(ctx);
    app.get('/boom', async () => {
      throw new Error('relation "secret_table" does not exist');
    });
    await app.ready();
    const response = await app.inject({ url: '/boom' });
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('secret_table');
    expect(response.body).not.toContain('at ');
    expect(response.json()).toMatchObject({ status: 500, code: 'internal_error' });
    expect(lines.join('')).toContain('secret_table');
    await app.close();
  });

  it('logs each request with its request id when request logging is on', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const base = buildTestContext(db, { env: { LOG_REQUESTS: 'true' } });
    const app = await buildApp({ ...base, logger: pino({ level: 'info' }, sink) });
    await app.ready();
    await app.inject({ url: '/healthz', headers: { 'x-request-id': 'log-me-1' } });
    await app.inject({ url: '/api/v1/no/such/route', headers: { 'x-request-id': 'log-me-2' } });
    const records = lines.map((line) => JSON.parse(line) as { reqId?: string; msg?: string });
    for (const reqId of ['log-me-1', 'log-me-2']) {
      const mine = records.filter((record) => record.reqId === reqId).map((record) => record.msg);
      expect(mine, reqId).toEqual(expect.arrayContaining(['incoming request',
        'request completed']));
    }
    await app.close();
  });

  it('writes no per-request lines when request logging is off', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const base = buildTestContext(db, { env: { LOG_REQUESTS: 'false' } });
    const app = await buildApp({ ...base, logger: pino({ level: 'info' }, sink) });
    await app.ready();
    await app.inject({ url: '/healthz' });
    expect(lines.filter((line) => line.includes('"reqId"'))).toEqual([]);
    await app.close();
  });

  it('rate-limits writes per address with Retry-After, and never reads', async () => {
    const { app } = await buildTestApp(db, { env: { RATE_LIMIT_WRITES_PER_IP: '3' } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const response = await app.inject({
        method: 'POST', url: '/api/v1/sessions',
        payload: { email: 'nobody@example.com', password: 'whatever1' },
      });
      statuses.push(response.statusCode);
      if (response.statusCode === 429) {
        expect(response.headers['retry-after']).toBeDefined();
        expect(response.json().code).toBe('rate_limited');
      }
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    for (let i = 0; i < 10; i++) {
      expect((await app.inject({ url: '/api/v1/events' })).statusCode).toBe(200);
    }
    await app.close();
  });

  it('admits a burst of hundreds of concurrent writes from one address by default', async () => {
    const { app } = await buildTestApp(db, { env: { RATE_LIMIT_WRITES_PER_IP: '6000' } });
    const responses = await Promise.all(Array.from({ length: 300 }, () => app.inject({
      // An invalid body fails validation after the limiter has counted it: cheap to send.
      method: 'POST', url: '/api/v1/sessions', payload: {},
    })));
    expect(responses.filter((r) => r.statusCode === 400)).toHaveLength(300);
    expect(responses.filter((r) => r.statusCode === 429)).toHaveLength(0);
    await app.close();
  });
});
