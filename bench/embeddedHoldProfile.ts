/**
 * Where an embedded hold's time goes, by thread: runs the holds section's embedded case
 * (random single seats, or with `--standing` standing ×2, over HTTP on PGlite, 10,000
 * customers) after an uncounted concurrent warm-up (bench/embeddedWarmup.ts; `--cold` skips
 * it), counting the statements the route sends and the hold batches' sizes, and reports CPU
 * per request of the process and of each of its threads over the measured window only, and
 * (with `--cpu`) an inspector profile of the server thread. Run with
 * `npx tsx bench/embeddedHoldProfile.ts [connections] [seconds] [--cpu] [--in-thread]
 * [--standing] [--cold] [--warm-seconds=N]` (PGlite in a worker thread of its own;
 * `--in-thread`: on the main thread). 25,000 seats and 40,000 standing, so 6 s at 3,000/s
 * does not run out.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createEvent } from '../src/catalog/events.js';
import { createVenue } from '../src/catalog/venues.js';
import { systemClock } from '../src/core/clock.js';
import type { Db, Queryable, QueryResult } from '../src/storage/index.js';
import { buildCustomers } from '../src/testing/factories.js';
import { busy, Profiler, summarize } from './cpuProfile.js';
import { warmEmbeddedHolds } from './embeddedWarmup.js';
import { benchPglite, loadHttp, postJson, startBenchServer } from './lib.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const connections = Number(args[0] ?? 32);
const seconds = Number(args[1] ?? 6);
const cpuProfile = process.argv.includes('--cpu');
const inThread = process.argv.includes('--in-thread');
const standing = process.argv.includes('--standing');
const cold = process.argv.includes('--cold');

/** CPU (ms) of every thread of this process by task id, with its name. */
function threadCpu(): Map<string, { name: string; ms: number }> {
  const out = new Map<string, { name: string; ms: number }>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, { name, ms: (Number(fields[11]) + Number(fields[12])) * 10 });
    } catch {
      // The thread ended.
    }
  }
  return out;
}
const fmt = (n: number, digits = 1): string => n.toFixed(digits);

let measuring = false;
const statements = new Map<string, { n: number; ms: number }>();
const batchSizes: number[] = [];

/** The database with every statement counted (by its first words) while measuring. */
function counted(db: Db): Db {
  const query = async <T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> => {
    if (!measuring) return await db.query<T>(sql, params);
    const t0 = performance.now();
    const result = await db.query<T>(sql, params);
    const key = sql.replace(/\s+/g, ' ').slice(0, 70);
    const s = statements.get(key) ?? { n: 0, ms: 0 };
    s.n += 1;
    s.ms += performance.now() - t0;
    statements.set(key, s);
    if (sql.includes('hold_batch(')) {
      batchSizes.push((JSON.parse(String(params?.[2])) as unknown[]).length);
    }
    return result;
  };
  const tx = async <T>(work: (q: Queryable) => Promise<T>, o?: object): Promise<T> => {
    if (measuring) {
      const s = statements.get('(transaction)') ?? { n: 0, ms: 0 };
      s.n += 1;
      statements.set('(transaction)', s);
    }
    return await db.tx(work, o);
  };
  return { ...db, kind: db.kind, query, tx, exec: (sql) => db.exec(sql), ping: () => db.ping(),
    close: () => db.close() };
}

const dayMs = 24 * 3600 * 1000;
const raw = await benchPglite(!inThread);
const db = counted(raw);
const server = await startBenchServer(db, { connections });
const venue = await createVenue(db, {
  name: 'Embedded Hall', city: 'Benchtown',
  sections: [
    ...Array.from({ length: 20 }, (_, s) => ({
      key: `S${s + 1}`, name: `Section ${s + 1}`, kind: 'seated' as const,
      rows: Array.from({ length: 25 }, (_, r) => ({ label: String(r + 1), seats: 50 })),
    })),
    { key: 'FLOOR', name: 'Floor', kind: 'standing' as const, capacity: 40_000 },
  ],
});
const created = await createEvent(db, systemClock, {
  venueId: venue.venueId, title: 'Embedded On-Sale', maxTicketsPerCustomer: 50,
  startsAt: new Date(Date.now() + 30 * dayMs).toISOString(),
  onSaleAt: new Date(Date.now() - 1000).toISOString(), holdSeconds: 3600,
  zones: [
    { key: 'z1', name: 'Z1', priceCents: 9000, currency: 'EUR',
      sections: Array.from({ length: 20 }, (_, i) => `S${i + 1}`) },
    { key: 'floor', name: 'Floor', priceCents: 2000, currency: 'EUR', sections: ['FLOOR'] },
  ],
});
const fans = await buildCustomers(server.ctx, 10_000);
await db.query('VACUUM ANALYZE');
const seats: string[] = [];
for (let s = 1; s <= 20; s++) for (let r = 1; r <= 25; r++) for (let n = 1; n <= 50; n++) {
  seats.push(`S${s}-${r}-${n}`);
}
seats.sort(() => Math.random() - 0.5);
const path = `/api/v1/events/${created.eventId}/holds`;
const bodies = standing ? Array.from({ length: 19_000 }, () => ({ zone: 'floor', quantity: 2 }))
  : seats.map((id) => ({ seats: [id] }));
const specs = bodies.map((body, i) => postJson(path, body,
  { authorization: `Bearer ${(fans[i % fans.length] as { token: string }).token}` }));

const loadAvg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3)
  .join(' ');

if (!cold) {
  const warmArg = process.argv.find((a) => a.startsWith('--warm-seconds='));
  const warmSeconds = warmArg === undefined ? undefined : Number(warmArg.split('=')[1]);
  const warm = await warmEmbeddedHolds(db, server.url, fans, connections,
    warmSeconds === undefined ? undefined
      : { holds: Math.round(warmSeconds * 3_000), ms: warmSeconds * 1000 });
  console.log(`warm-up: ${warm.ops} holds at ${fmt(warm.opsPerSec, 0)}/s (not counted)`);
}
console.log(`load before: ${loadAvg()}`);
const profiler = cpuProfile ? new Profiler() : undefined;
await profiler?.start();
const process0 = process.cpuUsage();
const threads0 = threadCpu();
measuring = true;
const run = await busy(() => loadHttp('embedded holds', server.url, specs,
  { concurrency: connections, maxMs: seconds * 1000 }));
measuring = false;
const processUsed = process.cpuUsage(process0);
const threads1 = threadCpu();
const profile = await profiler?.stop();
console.log(`load after: ${loadAvg()}`);
await server.close();
await raw.close();

const ops = run.result.ops;
const perUs = (ms: number): string => fmt((ms * 1000) / Math.max(1, ops), 0);
const processMs = (processUsed.user + processUsed.system) / 1000;
console.log(`${standing ? 'standing ×2' : 'single seats'}, ${cold ? 'cold' : 'warm'}, ` +
  `connections ${connections}, ${seconds} s: ${fmt(run.result.opsPerSec, 0)}/s, p50 ${
  fmt(run.result.p50Ms)} ms, p99 ${fmt(run.result.p99Ms)} ms, statuses ${
  JSON.stringify(run.result.statuses)}`);
console.log(`server thread CPU ${perUs(run.cpuMs)} µs/request (busy ${perUs(run.busyMs)}); ` +
  `process CPU ${perUs(processMs)} µs/request (the rest: load thread, GC, libuv)`);
console.log(`database ${inThread ? 'on the main thread' : 'in a worker thread'}; ` +
  'CPU per request by thread (µs; main is the server, the worker threads the database and ' +
  'the load generator):');
for (const [tid, t] of threads1) {
  const used = t.ms - (threads0.get(tid)?.ms ?? 0);
  const who = tid === String(process.pid) ? 'main' : `${t.name} ${tid}`;
  if (used >= 20) console.log(`  ${perUs(used).padStart(6)}  ${who}`);
}
const sizes = batchSizes.slice().sort((a, b) => a - b);
const mean = sizes.reduce((a, b) => a + b, 0) / Math.max(1, sizes.length);
console.log(`hold batches: ${sizes.length}, mean size ${fmt(mean)}, p50 ${
  sizes[Math.floor(sizes.length / 2)]}, max ${sizes[sizes.length - 1]}`);
console.log('statements while measuring (count per request, wall ms each):');
for (const [sql, s] of [...statements].sort((a, b) => b[1].n - a[1].n)) {
  console.log(`  ${fmt(s.n / Math.max(1, ops), 3).padStart(7)}  ${
    fmt(s.ms / Math.max(1, s.n), 2).padStart(7)} ms  ${sql}`);
}
if (profile !== undefined) await summarize(profile, 'embedded holds', { self: 30, total: 60 });
