/**
 * A/B of hold batch formation over HTTP: single random seats on PostgreSQL with several
 * (holdBatchMax × holdBatchesInFlight) settings, interleaved in one session at 32 and 64
 * connections, with `/healthz` and the load average beside every round. The settings are
 * changed in this process between cases, which only a benchmark does: each case starts its
 * own server over a fresh handle on the same database, so its batcher is built with them.
 * `npx tsx bench/holdBatchLimits.ts [--configs=64x4,64x1,64x2,64x2p16] [--connections=32,64]
 * [--rounds=2] [--seconds=4]`.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createEvent } from '../src/catalog/events.js';
import { createVenue } from '../src/catalog/venues.js';
import { systemClock } from '../src/core/clock.js';
import { limits } from '../src/config/limits.js';
import type { Db } from '../src/storage/index.js';
import { buildCustomers } from '../src/testing/factories.js';
import { benchPostgres, fmt, loadHttp, postJson, startBenchServer } from './lib.js';

const argv = process.argv.slice(2);
const option = (name: string): string | undefined =>
  argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const configs = (option('configs') ?? '64x4,64x1,64x2,32x2').split(',').map((c) => {
  // `64x2p16`: batches of at most 64, 2 in flight, the second only once 16 wait.
  const [max, inFlight, parallelMin] = c.split(/[xp]/).map(Number);
  return { name: c, max: max as number, inFlight: inFlight as number,
    parallelMin: parallelMin ?? 1 };
});
const connectionCounts = (option('connections') ?? '32,64').split(',').map(Number);
const rounds = Number(option('rounds') ?? 2);
const caseMs = Number(option('seconds') ?? 4) * 1000;

/** The limits object, writable here only: the A/B changes it between cases. */
const tunable = limits as unknown as {
  holdBatchMax: number; holdBatchesInFlight: number; holdBatchParallelMin: number;
};

/** Batch sizes seen: calls, requests, and requests weighted by their own batch's size. */
const batches = { calls: 0, requests: 0, weighted: 0 };
const raw = await benchPostgres(20);
/** A new handle on the database that counts hold batches (a new handle, a new batcher). */
const counted = (): Db => new Proxy(raw, {
  get(target, prop, receiver) {
    if (prop !== 'query') {
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    }
    return async (sql: string, params?: unknown[]) => {
      if (sql.includes('hold_batch(') && typeof params?.[2] === 'string') {
        const size = params[2].split('{"i":').length - 1;
        batches.calls++; batches.requests += size; batches.weighted += size * size;
      }
      return await target.query(sql, params);
    };
  },
}) as Db;
const db = raw;
const setupServer = await startBenchServer(db, { connections: 64 });
const sections = Array.from({ length: 80 }, (_, s) => ({
  key: `S${s + 1}`, name: `Section ${s + 1}`, kind: 'seated' as const,
  rows: Array.from({ length: 25 }, (_, r) => ({ label: String(r + 1), seats: 50 })),
}));
const venue = await createVenue(db, { name: 'Limits Arena', city: 'Benchtown', sections });
// Held 1 s: a seat comes back (lazy expiry) long before the list of seats comes round again.
const event = await createEvent(db, systemClock, {
  venueId: venue.venueId, title: 'Limits On-Sale', maxTicketsPerCustomer: 50, holdSeconds: 1,
  startsAt: new Date(Date.now() + 86_400_000).toISOString(),
  onSaleAt: new Date(Date.now() - 1000).toISOString(),
  zones: [{ key: 'z1', name: 'Z1', priceCents: 9000, currency: 'EUR',
    sections: sections.map((section) => section.key) }],
});
const fans = await buildCustomers(setupServer.ctx, 40_000);
await setupServer.close();
await db.query('VACUUM ANALYZE');
const seats = sections.flatMap((section) => section.rows.flatMap((row) =>
  Array.from({ length: row.seats }, (_, n) => `${section.key}-${row.label}-${n + 1}`)))
  .sort(() => Math.random() - 0.5);
let nextSeat = 0;
let nextFan = 0;
const path = `/api/v1/events/${event.eventId}/holds`;
const specs = (count: number) => Array.from({ length: count }, () => postJson(path,
  { seats: [seats[nextSeat++ % seats.length]] },
  { authorization: `Bearer ${(fans[nextFan++ % fans.length] as { token: string }).token}` }));
/** CPU nanoseconds so far of this database's PostgreSQL backends (the server's pool). */
const { rows: [named] } = await raw.query<{ d: string }>('SELECT current_database() AS d');
async function backendCpuNs(): Promise<Map<number, number>> {
  const { rows } = await raw.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = $1', [(named as { d: string }).d]);
  const out = new Map<number, number>();
  for (const { pid } of rows) {
    try {
      out.set(pid, Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]));
    } catch { /* gone */ }
  }
  return out;
}
const load = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');

try {
  for (let round = 1; round <= rounds; round++) {
    const healthServer = await startBenchServer(counted(), { connections: 64 });
    const health = await loadHttp('/healthz', healthServer.url,
      Array.from({ length: 100_000 }, () => ({ method: 'GET' as const, path: '/healthz' })),
      { concurrency: 64, maxMs: caseMs, warmup: 200 });
    await healthServer.close();
    process.stdout.write(`round ${round}: /healthz ${fmt(health.opsPerSec)}/s (load ${load()})\n`);
    for (const connections of connectionCounts) {
      for (const config of configs) {
        tunable.holdBatchMax = config.max;
        tunable.holdBatchesInFlight = config.inFlight;
        tunable.holdBatchParallelMin = config.parallelMin;
        Object.assign(batches, { calls: 0, requests: 0, weighted: 0 });
        const server = await startBenchServer(counted(), { connections: 64 });
        const pg0 = await backendCpuNs();
        const node0 = process.cpuUsage();
        const row = await loadHttp(config.name, server.url, specs(40_000),
          { concurrency: connections, maxMs: caseMs, warmup: 20, ok: [201] });
        const node = process.cpuUsage(node0);
        const pg1 = await backendCpuNs();
        await server.close();
        let pgNs = 0;
        for (const [pid, ns] of pg1) pgNs += ns - (pg0.get(pid) ?? 0);
        const held = row.ops + 20;
        const cpu = `CPU per hold: node (server + load thread) ${
          ((node.user + node.system) / 1000 / held).toFixed(3)} ms, PostgreSQL ${
          (pgNs / 1e6 / held).toFixed(3)} ms`;
        process.stdout.write(`  ${connections} conns, max ${config.max} × ${config.inFlight} in ` +
          `flight (from ${config.parallelMin} waiting): ${fmt(row.opsPerSec)}/s = ${
            (row.opsPerSec / health.opsPerSec * 100).toFixed(1)} % of /healthz, p50 ${
            fmt(row.p50Ms, 1)} ms, p99 ${fmt(row.p99Ms, 1)} ` +
          `ms, ${row.errors} errors; batches: mean ${fmt(batches.requests / batches.calls)}, ` +
          `as a request sees it ${fmt(batches.weighted / batches.requests)}; ${cpu} ` +
          `(load ${load()})\n`);
      }
    }
  }
} finally {
  await raw.close();
}
