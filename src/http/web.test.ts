/**
 * The web app served by the API process: client routes fall back to index.html, hashed
 * assets are cached for a year and sent precompressed, and the fallback never answers for
 * the API, docs or probes (those keep their own replies, including problem+json 404s).
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, type Db } from '../storage/index.js';
import { createPgliteDb } from '../storage/pglite.js';
import { buildTestApp } from '../testing/context.js';
import type { App } from './types.js';

const indexHtml = '<!doctype html><html><body><div id="root"></div></body></html>';
const script = `console.log(${JSON.stringify('x'.repeat(4000))});`;

describe('web app serving', () => {
  let db: Db;
  let app: App;
  let webDir: string;

  beforeAll(async () => {
    webDir = mkdtempSync(path.join(tmpdir(), 'stampede-web-'));
    mkdirSync(path.join(webDir, 'assets'));
    writeFileSync(path.join(webDir, 'index.html'), indexHtml);
    writeFileSync(path.join(webDir, 'assets', 'app-Ab12Cd34.js'), script);
    writeFileSync(path.join(webDir, 'assets', 'app-Ab12Cd34.js.gz'), gzipSync(script));
    db = await createPgliteDb(undefined);
    await migrate(db);
    ({ app } = await buildTestApp(db, { env: { STAMPEDE_WEB_DIR: webDir } }));
  });
  afterAll(async () => {
    await app?.close();
    await db?.close();
    rmSync(webDir, { recursive: true, force: true });
  });

  it('serves index.html at / and for client-side routes, revalidated on every visit', async () => {
    for (const url of ['/', '/events/abc', '/me/orders?x=1', '/organizer/venues/new']) {
      const reply = await app.inject({ url, headers: { accept: 'text/html' } });
      expect(reply.statusCode, url).toBe(200);
      expect(reply.headers['content-type'], url).toMatch(/^text\/html/);
      expect(reply.headers['cache-control'], url).toBe('no-cache');
      expect(reply.body, url).toBe(indexHtml);
    }
  });

  it('caches hashed assets for a year and sends the precompressed file', async () => {
    const plain = await app.inject({ url: '/assets/app-Ab12Cd34.js' });
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(plain.body).toBe(script);
    const gzipped = await app.inject({
      url: '/assets/app-Ab12Cd34.js', headers: { 'accept-encoding': 'gzip' },
    });
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gzipped.rawPayload.length).toBeLessThan(script.length / 10);
  });

  it('answers a missing asset with 404, not the page', async () => {
    const reply = await app.inject({ url: '/assets/app-Old00000.js' });
    expect(reply.statusCode).toBe(404);
    expect(reply.json().code).toBe('not_found');
  });

  it('never shadows the API, the docs or the probes', async () => {
    for (const url of ['/api', '/api/v1/nope', '/api/v1/events/x/nope', '/healthzz/../api/x']) {
      const reply = await app.inject({ url, headers: { accept: 'text/html' } });
      expect(reply.statusCode, url).toBe(404);
      expect(reply.headers['content-type'], url).toMatch(/^application\/problem\+json/);
    }
    expect((await app.inject({ url: '/openapi.json' })).json().openapi).toBe('3.1.0');
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/metrics' })).body).toMatch(/# HELP/);
    const docs = await app.inject({ url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toMatch(/swagger/i);
    expect((await app.inject({ url: '/docs/nope.js' })).body).not.toBe(indexHtml);
    const events = await app.inject({ url: '/api/v1/events' });
    expect(events.statusCode).toBe(200);
    expect(events.json().data).toEqual([]);
  });

  it('keeps non-GET requests to unknown paths as problem+json 404s', async () => {
    const reply = await app.inject({ method: 'POST', url: '/events/abc', payload: {} });
    expect(reply.statusCode).toBe(404);
    expect(reply.json().code).toBe('not_found');
  });

  it('leaves the OpenAPI document free of the web routes', async () => {
    const doc = (await app.inject({ url: '/openapi.json' })).json() as { paths: object };
    const paths = Object.keys(doc.paths);
    expect(paths.filter((p) => p === '/' || p.includes('*') || /\.(html|js)$/.test(p)))
      .toEqual([]);
  });
});
