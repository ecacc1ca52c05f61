/**
 * Benchmark harness: machine facts, a closed-loop load generator with latency percentiles,
 * a fresh PostgreSQL database per benchmark, and a server on a loopback port. Every run is
 * bounded in requests and time and talks only to 127.0.0.1.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import type { AppContext } from '../src/context.js';
import { freePort } from '../src/core/ports.js';
import { buildApp } from '../src/http/app.js';
import type { App } from '../src/http/types.js';
import { migrate, type Db } from '../src/storage/index.js';
import { createPgliteDb } from '../src/storage/pglite.js';
import { testBackends } from '../src/testing/backends.js';
import { buildTestContext, type TestContextOptions } from '../src/testing/context.js';

/** One measured case. Throughput and latency are for the whole case. */
export interface BenchRow {
  name: string;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Requests or operations completed, and how many failed or were refused. */
  ops: number;
  errors: number;
  notes?: string;
}

/** A titled group of rows with a sentence on what it shows. */
export interface BenchSection {
  title: string;
  description: string;
  rows: BenchRow[];
}

export interface LoadOptions {
  /** Operations in flight at once (closed loop: each worker waits for its reply). */
  concurrency: number;
  /** Stop after this many operations… */
  total: number;
  /** …or after this long, whichever comes first. */
  maxMs?: number;
  /** Operations before measuring starts (JIT, pools, caches). */
  warmup?: number;
}

/** Percentile of sorted numbers (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/**
 * Runs `op(i)` with bounded concurrency and returns throughput and latency. `op` returns
 * false (or throws) for a failed operation; failures are counted, not retried.
 */
export async function load(
  name: string, options: LoadOptions, op: (i: number) => Promise<boolean>,
): Promise<BenchRow> {
  for (let i = 0; i < (options.warmup ?? 0); i++) await op(-1 - i).catch(() => false);
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const deadline = performance.now() + (options.maxMs ?? 20_000);
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < options.total && performance.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      let ok = false;
      try {
        ok = await op(i);
      } catch {
        ok = false;
      }
      latencies.push(performance.now() - t0);
      if (!ok) errors++;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const elapsedMs = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return {
    name,
    opsPerSec: (latencies.length / elapsedMs) * 1000,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    ops: latencies.length,
    errors,
  };
}

/** A fresh PostgreSQL database (dropped on close); throws when PostgreSQL is unreachable. */
export async function benchPostgres(poolMax = 20): Promise<Db> {
  const postgres = (await testBackends()).find((backend) => backend.name === 'postgres');
  if (postgres === undefined || !postgres.available) {
    throw new Error('benchmarks need PostgreSQL (TEST_DATABASE_URL, default 127.0.0.1:5432)');
  }
  return await postgres.open({ poolMax });
}

/** A fresh in-memory PGlite database; with `thread`, in a worker thread of its own. */
export async function benchPglite(thread = false): Promise<Db> {
  if (thread) {
    const db = await createPgliteDb(undefined, { thread: true });
    await migrate(db);
    return db;
  }
  const pglite = (await testBackends()).find((backend) => backend.name === 'pglite');
  return await (pglite as NonNullable<typeof pglite>).open();
}

export interface BenchServer {
  app: App;
  ctx: AppContext;
  url: string;
  /** A keep-alive connection pool to the server, sized for the benchmark. */
  client: Pool;
  close(): Promise<void>;
}

/** Starts the real app on a loopback port over `db`, with rate limits out of the way. */
export async function startBenchServer(
  db: Db, options: TestContextOptions & { connections?: number } = {},
): Promise<BenchServer> {
  // The port is chosen first so PUBLIC_URL is right: the simulated gateway posts its
  // webhooks there.
  const port = await freePort();
  const ctx = buildTestContext(db, {
    // One load generator stands for thousands of fans: lift the per-address caps.
    ...options, env: {
      RATE_LIMIT_WRITES_PER_IP: '10000000', RATE_LIMIT_HOLDS_PER_IP: '10000000',
      RATE_LIMIT_JOINS_PER_IP: '10000000', PUBLIC_URL: `http://127.0.0.1:${port}`,
      ...options.env,
    },
  });
  const app = await buildApp(ctx);
  const address = await app.listen({ port, host: '127.0.0.1' });
  const client = new Pool(address, { connections: options.connections ?? 64, pipelining: 1 });
  return {
    app, ctx, url: address, client,
    async close() {
      await client.close();
      await app.close();
    },
  };
}

/** Sends a JSON request through the pool; resolves to the status and parsed body. */
export async function request(
  client: Pool, method: 'GET' | 'POST' | 'DELETE', path: string,
  body?: unknown, headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  const response = await client.request({
    method, path,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.body.text();
  return { status: response.statusCode, body: text === '' ? undefined : JSON.parse(text) };
}

/** Facts about this machine for the report header. */
export async function machineInfo(db?: Db): Promise<Record<string, string>> {
  const cpus = os.cpus();
  const info: Record<string, string> = {
    date: new Date().toISOString(),
    cpu: `${cpus[0]?.model ?? 'unknown'} × ${cpus.length}`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    os: `${os.type()} ${os.release()} (${os.arch()})`,
    node: process.version,
  };
  if (db !== undefined) {
    const { rows } = await db.query<{ version: string }>(
      "SELECT current_setting('server_version') AS version",
    );
    info.postgresql = rows[0]?.version ?? 'unknown';
  }
  return info;
}

/** Rounds for the report. */
export function fmt(value: number, digits = 1): string {
  if (!Number.isFinite(value)) return '–';
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(digits);
}

/** One request for the load thread, fully formed (bodies already JSON text). */
export interface RequestSpec {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** A JSON POST spec. */
export function postJson(path: string, body: unknown, headers: Record<string, string> = {}):
  RequestSpec {
  return {
    method: 'POST', path, body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  };
}

/**
 * Replays `requests` against `url` from a separate thread with `concurrency` keep-alive
 * connections (closed loop), so the server in this thread does not share its event loop
 * with the client. `ok` statuses count as successes; everything else as errors.
 */
export async function loadHttp(
  name: string, url: string, requests: RequestSpec[],
  options: { concurrency: number; maxMs?: number; warmup?: number; ok?: number[] },
): Promise<BenchRow & {
  statuses: Record<string, number>; warmupStatuses: Record<string, number>;
}> {
  const { Worker } = await import('node:worker_threads');
  const worker = new Worker(new URL('./http-load-worker.mjs', import.meta.url), {
    workerData: {
      url, requests, concurrency: options.concurrency, maxMs: options.maxMs ?? 20_000,
      warmup: options.warmup ?? 0,
    },
  });
  const result = await new Promise<{
    latencies: number[]; statuses: Record<string, number>;
    warmupStatuses: Record<string, number>; elapsedMs: number;
  }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  const ok = new Set(options.ok ?? [200, 201]);
  const latencies = result.latencies.sort((a, b) => a - b);
  const errors = Object.entries(result.statuses)
    .filter(([status]) => !ok.has(Number(status)))
    .reduce((sum, [, n]) => sum + n, 0);
  return {
    name,
    opsPerSec: (latencies.length / result.elapsedMs) * 1000,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    ops: latencies.length,
    errors,
    statuses: result.statuses,
    warmupStatuses: result.warmupStatuses,
  };
}

/**
 * Rows that make a sale look under way for the scale benches: a live hold of 2 tickets for
 * each of `holders`, and a purchased hold with its confirmed order for each of `buyers`
 * (no tickets claimed: the rows only size the tables the per-customer reads walk).
 */
export async function insertFillerHolds(
  db: { query(sql: string, params: unknown[]): Promise<unknown> },
  eventId: string, holders: string[], buyers: string[],
): Promise<void> {
  await db.query(
    `INSERT INTO holds (hold_id, event_id, customer_id, state, quantity, adjacent, currency,
                        total_cents, expires_at, claim_expires_at)
     SELECT gen_random_uuid(), $1, c, 'held', 2, true, 'EUR', 18000,
            now() + interval '1 hour', now() + interval '1 hour' FROM unnest($2::uuid[]) AS c`,
    [eventId, holders]);
  await db.query(
    `WITH h AS (
       INSERT INTO holds (hold_id, event_id, customer_id, state, quantity, adjacent, currency,
                          total_cents, expires_at, claim_expires_at, ended_at)
       SELECT gen_random_uuid(), $1, c, 'purchased', 2, true, 'EUR', 18000,
              now(), now(), now() FROM unnest($2::uuid[]) AS c
       RETURNING hold_id, customer_id)
     INSERT INTO orders (order_id, event_id, customer_id, hold_id, status, quantity,
                         total_cents, currency, confirmed_at)
     SELECT gen_random_uuid(), $1, h.customer_id, h.hold_id, 'confirmed', 2, 18000, 'EUR', now()
       FROM h`,
    [eventId, buyers]);
}
