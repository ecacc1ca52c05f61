/**
 * The machine's ceilings, measured with the same client as every other section: a bare
 * Fastify route (no plugins, no database) and the full Stampede app answering a route that
 * touches nothing (all plugins: metrics, rate limits, request ids). What a hot path
 * reaches should be read against these.
 */
import Fastify from 'fastify';
import { Pool } from 'undici';
import {
  benchPglite, load, loadHttp, postJson, startBenchServer, type BenchRow, type BenchSection,
} from './lib.js';

async function bareFastify(): Promise<BenchRow[]> {
  const app = Fastify({ logger: false });
  app.get('/ping', async () => ({ ok: true }));
  app.post('/echo', async (request) => request.body);
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const client = new Pool(address, { connections: 64 });
  try {
    const get = await load('bare Fastify GET, no plugins, no database',
      { concurrency: 64, total: 60_000, maxMs: 8_000, warmup: 200 }, async () => {
        const response = await client.request({ method: 'GET', path: '/ping' });
        await response.body.text();
        return response.statusCode === 200;
      });
    const body = JSON.stringify({ seats: ['A-1-1', 'A-1-2', 'A-1-3', 'A-1-4'] });
    const post = await load('bare Fastify POST JSON, no plugins, no database',
      { concurrency: 64, total: 60_000, maxMs: 8_000, warmup: 200 }, async () => {
        const response = await client.request({
          method: 'POST', path: '/echo', body, headers: { 'content-type': 'application/json' },
        });
        await response.body.text();
        return response.statusCode === 200;
      });
    const specs = Array.from({ length: 100_000 }, () => ({ method: 'GET' as const, path: '/ping' }));
    const threaded = await loadHttp('bare Fastify GET, client in its own thread', address, specs,
      { concurrency: 64, maxMs: 8_000, warmup: 200 });
    const posts = Array.from({ length: 100_000 }, () =>
      postJson('/echo', { seats: ['A-1-1', 'A-1-2', 'A-1-3', 'A-1-4'] }));
    const threadedPost = await loadHttp('bare Fastify POST JSON, client in its own thread',
      address, posts, { concurrency: 64, maxMs: 8_000, warmup: 200 });
    return [
      { ...get, notes: 'client in the server thread, 64 keep-alive connections' },
      { ...post, notes: 'client in the server thread' },
      { ...threaded, notes: 'the server has its event loop to itself' },
      { ...threadedPost, notes: 'the server has its event loop to itself' },
    ];
  } finally {
    await client.close();
    await app.close();
  }
}

async function fullApp(): Promise<BenchRow> {
  const db = await benchPglite();
  const server = await startBenchServer(db, { connections: 64 });
  try {
    const specs = Array.from({ length: 100_000 }, () => ({ method: 'GET' as const,
      path: '/healthz' }));
    const row = await loadHttp('Stampede app GET /healthz (all plugins, no database)',
      server.url, specs, { concurrency: 64, maxMs: 8_000, warmup: 200 });
    return { ...row, notes: 'client in its own thread; metrics, rate limit, request id' };
  } finally {
    await server.close();
    await db.close();
  }
}

/** Runs the ceiling measurements. */
export async function run(): Promise<BenchSection> {
  return {
    title: 'Ceilings: HTTP on this machine',
    description: 'The fastest any route can answer here: client and server share the two ' +
      'cores, so these numbers bound every HTTP figure below.',
    rows: [...(await bareFastify()), await fullApp()],
  };
}
