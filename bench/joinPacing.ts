/**
 * Join batch pacing, A/B in one process: the same group-committed numbering (JoinBatcher,
 * `queue_join_batch`) under different pacings — one batch in flight per event, or a second
 * that waits for the numbering row's lock inside PostgreSQL — run in short alternating
 * windows on one database, so the box's load moves all of them alike. Each join spends
 * `--work=µs` of this thread's CPU before and after its batch (default 100: what a join's
 * HTTP request, auth, limits and reply cost the server thread), so batches compete with
 * request handling for the event loop as they do in the app.
 *
 * Reports per pacing: joins/s, latency, batches and their mean size, PostgreSQL backend CPU
 * per join (from /proc), and checks the numbers are dense.
 *
 * `npx tsx bench/joinPacing.ts [rounds] [seconds] [--work=100] [--connections=64]`
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

import { loadEvent, type EventRecord } from '../src/catalog/events.js';
import { JoinBatcher, type JoinPacing } from '../src/queue/line.js';
import { newSeed } from '../src/queue/shuffle.js';
import type { Db } from '../src/storage/index.js';
import { buildTestContext } from '../src/testing/context.js';
import { buildEvent } from '../src/testing/factories.js';
import { benchPostgres, load } from './lib.js';
import { processesCpuMs } from './cpuProfile.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const option = (name: string, fallback: number): number => {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`));
  return found === undefined ? fallback : Number(found.slice(name.length + 3));
};
const rounds = Number(args[0] ?? 3);
const seconds = Number(args[1] ?? 4);
const workUs = option('work', 100);
const connections = option('connections', 64);

const pacings: Record<string, JoinPacing> = {
  'one in flight': { inFlight: 1, parallelMin: 1, nextFirst: false },
  'two, second at 8 waiting': { inFlight: 2, parallelMin: 8, nextFirst: true },
  'two, second at 1 waiting': { inFlight: 2, parallelMin: 1, nextFirst: true },
};

function spin(us: number): void {
  const until = performance.now() + us / 1000;
  while (performance.now() < until) { /* the request's own CPU */ }
}

async function backendPids(db: Db): Promise<number[]> {
  const { rows } = await db.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database()',
  );
  return rows.map((row) => row.pid);
}

interface Totals { ops: number; ms: number; pgMs: number; batches: number; p50: number[] }

const db = await benchPostgres(20);
const ctx = buildTestContext(db);
const batchSizes = new Map<string, number[]>();
const runs = new Map<string, { batcher: JoinBatcher; event: EventRecord; totals: Totals }>();
for (const [name, pacing] of Object.entries(pacings)) {
  const details = await buildEvent(ctx, {
    queue: { enabled: true, admitPerMinute: 1_000, maxActiveShoppers: 1_000 },
  });
  const event = await loadEvent(db, details.eventId);
  const sizes: number[] = [];
  batchSizes.set(name, sizes);
  // Batch sizes counted at the database handle: the batcher's one statement per batch.
  const counting: Db = new Proxy(db, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop !== 'query' || typeof value !== 'function') return value;
      return (sql: string, params?: unknown[]) => {
        const ids = params?.[1];
        if (sql.includes('queue_join_batch') && Array.isArray(ids)) sizes.push(ids.length);
        return (value as (s: string, p?: unknown[]) => unknown).call(target, sql, params);
      };
    },
  });
  runs.set(name, {
    batcher: new JoinBatcher(counting, ctx.clock, newSeed, pacing), event,
    totals: { ops: 0, ms: 0, pgMs: 0, batches: 0, p50: [] },
  });
}

try {
  const startLoad = loadavg().map((n) => n.toFixed(2)).join(' ');
  for (let round = 0; round < rounds; round += 1) {
    const order = round % 2 === 0 ? [...runs.keys()] : [...runs.keys()].reverse();
    for (const name of order) {
      const run = runs.get(name) as NonNullable<ReturnType<typeof runs.get>>;
      const sizes = batchSizes.get(name) as number[];
      const before = sizes.length;
      const pids = await backendPids(db);
      const pg0 = processesCpuMs(pids);
      const t0 = performance.now();
      const row = await load(name, { concurrency: connections, total: 1_000_000,
        maxMs: seconds * 1000 }, async () => {
        spin(workUs / 2);
        const outcome = await run.batcher.join(run.event, randomUUID(), 0);
        spin(workUs / 2);
        return outcome.created;
      });
      run.totals.ms += performance.now() - t0;
      run.totals.pgMs += processesCpuMs(pids) - pg0;
      run.totals.ops += row.ops;
      run.totals.batches += sizes.length - before;
      run.totals.p50.push(row.p50Ms);
      const batches = sizes.length - before;
      console.log(`round ${round + 1} ${name.padEnd(26)} ${
        row.opsPerSec.toFixed(0).padStart(6)}/s p50 ${row.p50Ms.toFixed(1)} p99 ${
        row.p99Ms.toFixed(1)} ms, batches ${batches}, mean ${
        (row.ops / Math.max(1, batches)).toFixed(1)}`);
    }
  }
  console.log(`load ${startLoad} → ${loadavg().map((n) => n.toFixed(2)).join(' ')}; ` +
    `${connections} connections, ${workUs} µs of request CPU per join`);
  for (const [name, { totals, event }] of runs) {
    const { rows } = await db.query<{ n: number; dense: boolean }>(
      `SELECT count(*)::int AS n, max(number) = count(*) AS dense FROM queue_entries
        WHERE event_id = $1`, [event.eventId]);
    console.log(`${name.padEnd(26)} ${(totals.ops / totals.ms * 1000).toFixed(0).padStart(6)}/s, ` +
      `batches mean ${(totals.ops / Math.max(1, totals.batches)).toFixed(1)}, PostgreSQL CPU ${
        (totals.pgMs * 1000 / Math.max(1, totals.ops)).toFixed(0)} µs/join, p50s ${
        totals.p50.map((p) => p.toFixed(1)).join(' / ')} ms; ${rows[0]?.n} entries, dense: ${
        rows[0]?.dense}`);
  }
} finally {
  await db.close();
}
process.exit(0);
