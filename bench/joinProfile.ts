/**
 * Where a queue join's time goes under load: new fans join one queued event over HTTP on
 * PostgreSQL (as the waiting-room section does), next to a bare Fastify POST in the same
 * process and the join's floor (a bare route doing only the group-committed numbering),
 * then the same fans re-join and poll `queue/me`. For each it reports the server
 * thread's busy time per request (event-loop utilization, so the load thread is not
 * counted), and for the joins: every PostgreSQL statement timed from Node (at the client,
 * BEGIN and COMMIT included), round trips per join, the batch sizes formed, coordinator
 * (Redis) calls per join by kind, the request's stages, and PostgreSQL's sessions
 * (pg_stat_activity). Run with
 * `npx tsx bench/joinProfile.ts [connections] [seconds] [memory|redis] [--cpu]`:
 * `redis` coordinates through Redis (REDIS_URL for the app's global limit too, as a server
 * node does), `--cpu` takes a CPU profile of the server thread over the join window and
 * prints its heaviest functions (the profile is written to /tmp); `--cpu-rejoin` profiles
 * the re-join window instead (the request path with no database work).
 */
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';

import Fastify from 'fastify';
import { Redis } from 'ioredis';
import pg from 'pg';

import { loadEvent } from '../src/catalog/events.js';
import { systemClock } from '../src/core/clock.js';
import { createMemoryCoordinator, createRedisCoordinator } from '../src/coord/index.js';
import type { Coordinator } from '../src/coord/index.js';
import { JoinBatcher } from '../src/queue/line.js';
import { buildEvent } from '../src/testing/factories.js';
import { deleteRedisPrefix, testRedisUrl } from '../src/testing/services.js';
import { buildTestContext } from '../src/testing/context.js';
import { busy, Profiler, summarize } from './cpuProfile.js';
import { watchRequestStages } from './requestStages.js';
import { benchPostgres, loadHttp, postJson, startBenchServer, type RequestSpec } from './lib.js';
import { timedCall, type Stat } from './pgTrace.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const connections = Number(args[0] ?? 64);
const seconds = Number(args[1] ?? 6);
const coordKind = args[2] === 'redis' ? 'redis' : 'memory';
const cpuProfile = process.argv.includes('--cpu');
const cpuRejoin = process.argv.includes('--cpu-rejoin');

// ---- PostgreSQL statements, timed at the client (BEGIN/COMMIT included) ----
const statements = new Map<string, Stat>();
const batchSizes: number[] = [];
let measuring = false;

function label(sql: string): string {
  const s = sql.replace(/\s+/g, ' ').trim();
  const m = new RegExp([
    'queue_join_batch', 'FROM queue_numbering WHERE event_id = \\$1 FOR UPDATE',
    'FROM queue_entries WHERE event_id = \\$1 AND customer_id = ANY',
    'INSERT INTO queue_entries', 'UPDATE queue_numbering',
  ].join('|'), 'i').exec(s);
  return m ? m[0] : s.slice(0, 60);
}

type ClientQuery = (this: pg.Client, ...rest: unknown[]) => unknown;
const proto = pg.Client.prototype as unknown as { query: ClientQuery };
const original = proto.query;
proto.query = function timedQuery(this: pg.Client, ...rest: unknown[]): unknown {
  const [first, params] = rest;
  const sql = typeof first === 'string' ? first : (first as { text?: string } | null)?.text;
  if (!measuring || sql === undefined || this === sampler) return original.apply(this, rest);
  const key = label(sql);
  if (/queue_join_batch|customer_id = ANY/.test(key)) {
    const ids = Array.isArray(params) ? params[1] : undefined;
    if (Array.isArray(ids)) batchSizes.push(ids.length);
  }
  return timedCall(original, this, rest, statements, key);
};

// ---- coordinator calls, counted by kind ----
const coordCalls = new Map<string, number>();
// The pg_stat_activity sampler's client: not the app's, so not timed.
let sampler: pg.Client | undefined;
function counted(coord: Coordinator): Coordinator {
  return new Proxy(coord, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...rest: unknown[]) => {
        if (measuring) coordCalls.set(String(prop), (coordCalls.get(String(prop)) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, rest);
      };
    },
  });
}

const fmt = (n: number, digits = 1): string => n.toFixed(digits);

// ---- the bare route, same process, same load thread ----
const bare = Fastify({ logger: false });
bare.post('/join', async () => ({ state: 'waiting', number: 1, position: 1 }));
const bareUrl = await bare.listen({ port: 0, host: '127.0.0.1' });
const bareRun = await busy(() => loadHttp('bare Fastify POST', bareUrl,
  Array.from({ length: 80_000 }, () => postJson('/join', {})),
  { concurrency: connections, maxMs: seconds * 1000, warmup: 200 }));
await bare.close();

// ---- the join's floor: a bare route doing only the group-committed numbering ----
const db = await benchPostgres(20);
const floorEvent = await loadEvent(db, (await buildEvent(buildTestContext(db), {
  queue: { enabled: true, admitPerMinute: 1_000, maxActiveShoppers: 1_000 },
})).eventId);
const floorBatcher = new JoinBatcher(db, systemClock);
const floor = Fastify({ logger: false });
floor.post('/join', async (_request, reply) => {
  const outcome = await floorBatcher.join(floorEvent, randomUUID(), 0);
  return reply.status(201).send({ state: 'waiting', number: outcome.number });
});
const floorUrl = await floor.listen({ port: 0, host: '127.0.0.1' });
const floorRun = await busy(() => loadHttp('join floor', floorUrl,
  Array.from({ length: 40_000 }, () => postJson('/join', {})),
  { concurrency: connections, maxMs: seconds * 1000, warmup: 0 }));
await floor.close();

// ---- the app ----
const prefix = `bench:joinprofile:${randomUUID().slice(0, 8)}:`;
const inner = coordKind === 'redis'
  ? createRedisCoordinator({ url: testRedisUrl, prefix, name: 'join-profile' })
  : createMemoryCoordinator({});
const server = await startBenchServer(db, {
  connections, coord: counted(inner),
  env: {
    RATE_LIMIT_JOINS_PER_IP: '10000000', RATE_LIMIT_QUEUE_POLLS_PER_CUSTOMER: '1000000',
    ...(coordKind === 'redis' ? { REDIS_URL: testRedisUrl } : {}),
  },
});
const details = await buildEvent(buildTestContext(db), {
  queue: { enabled: true, admitPerMinute: 1_000, maxActiveShoppers: 1_000 },
});
const path = `/api/v1/events/${details.eventId}/queue`;
const specs: RequestSpec[] = Array.from({ length: 40_000 }, () => postJson(path, {}, {
  authorization: `Bearer ${server.ctx.tokens.issue(randomUUID())}`,
}));

// pg_stat_activity sampled from its own connection.
const { rows: [dbRow] } = await db.query<{ d: string }>('SELECT current_database() AS d');
sampler = new pg.Client({ host: '127.0.0.1', port: 5432,
  user: process.env.PGUSER ?? 'postgres', database: (dbRow as { d: string }).d });
await sampler.connect();
const states = new Map<string, number>();
let samples = 0;
let sampleInFlight = false;
const sampling = setInterval(() => {
  if (!measuring || sampleInFlight || sampler === undefined) return;
  sampleInFlight = true;
  void sampler.query<{ k: string; n: number }>(
    `SELECT coalesce(state,'') || ' ' || coalesce(wait_event_type,'-') || ':' ||
            coalesce(wait_event,'-') AS k, count(*)::int AS n
       FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
      GROUP BY 1`).then(({ rows }) => {
    samples++;
    for (const row of rows) states.set(row.k, (states.get(row.k) ?? 0) + row.n);
  }, () => undefined).finally(() => { sampleInFlight = false; });
}, 20);

const stage = watchRequestStages(() => measuring);

// Redis commands of the whole server (the app's global limit has its own connection).
const admin = coordKind === 'redis' ? new Redis(testRedisUrl) : undefined;
const commandStats = async (): Promise<Map<string, number>> => {
  const stats = new Map<string, number>();
  if (admin === undefined) return stats;
  for (const m of (await admin.info('commandstats')).matchAll(/cmdstat_(\S+?):calls=(\d+)/g)) {
    stats.set(m[1] as string, Number(m[2]));
  }
  return stats;
};

// Warm the route (the reply serializer compiles its validators on first use, the JIT)
// with fans of their own, before anything is counted.
await loadHttp('join warm-up', server.url, Array.from({ length: 300 }, () => postJson(path, {}, {
  authorization: `Bearer ${server.ctx.tokens.issue(randomUUID())}`,
})), { concurrency: 8, maxMs: 5_000, warmup: 0 });

const profiler = cpuProfile ? new Profiler() : undefined;
const loop = monitorEventLoopDelay({ resolution: 5 });
const redisBefore = await commandStats();
loop.enable();
measuring = true;
await profiler?.start();
const joinRun = await busy(() => loadHttp('join, new fans', server.url, specs,
  { concurrency: connections, maxMs: seconds * 1000, warmup: 0 }));
const profile = await profiler?.stop();
measuring = false;
loop.disable();
const redisAfter = await commandStats();
clearInterval(sampling);

// The same fans again: re-joins (the member cache answers) and polls (memory answers).
const joined = specs.slice(0, joinRun.result.ops);
const rejoinProfiler = cpuRejoin ? new Profiler() : undefined;
await rejoinProfiler?.start();
const rejoinRun = await busy(() => loadHttp('re-join', server.url, joined.slice(0, 100_000),
  { concurrency: connections, maxMs: seconds * 1000, warmup: 100, ok: [200] }));
const rejoinProfile = await rejoinProfiler?.stop();
const polls = joined.slice(0, 100_000).map((spec): RequestSpec => ({
  method: 'GET', path: `${path}/me`, headers: spec.headers ?? {},
}));
const pollRun = await busy(() => loadHttp('queue/me, waiting fans', server.url, polls,
  { concurrency: connections, maxMs: seconds * 1000, warmup: 100, ok: [200] }));
const { rows: [check] } = await db.query<{ n: number; dense: boolean }>(
  `SELECT count(*)::int AS n, max(number) = count(*) AS dense FROM queue_entries
    WHERE event_id = $1`, [details.eventId]);
// (entries include the 300 warm-up fans)

await sampler.end();
admin?.disconnect();
await server.close();
await db.close();
if (coordKind === 'redis') {
  await inner.close();
  // The members cache outlives the run by a day otherwise.
  await deleteRedisPrefix(prefix);
}

// ---- report ----
const perRequestUs = (ms: number, ops: number): string =>
  fmt((ms * 1000) / Math.max(1, ops), 0);
const line = (run: typeof bareRun): string => `${fmt(run.result.opsPerSec, 0)}/s, p50 ${
  fmt(run.result.p50Ms)} ms, p99 ${fmt(run.result.p99Ms)} ms, server thread CPU ${
  perRequestUs(run.cpuMs, run.result.ops)} µs/request (busy ${
  perRequestUs(run.busyMs, run.result.ops)}), errors ${run.result.errors}`;
const joins = joinRun.result.ops;
const ratio = (run: typeof bareRun): string =>
  `${fmt((run.result.opsPerSec / bareRun.result.opsPerSec) * 100)} % of bare`;
console.log(`connections ${connections}, ${seconds} s per run, coordination: ${coordKind}`);
console.log(`bare POST:           ${line(bareRun)}`);
console.log(`join floor:          ${line(floorRun)} (${ratio(floorRun)}; numbering only)`);
console.log(`join, new fans:      ${line(joinRun)} (${ratio(joinRun)})`);
console.log(`re-join:             ${line(rejoinRun)} (${ratio(rejoinRun)})`);
console.log(`queue/me, waiting:   ${line(pollRun)} (${ratio(pollRun)})`);
console.log(`entries ${check?.n}, numbers dense: ${check?.dense}`);
const ms = (ns: number): string => fmt(ns / 1e6);
console.log(`event loop delay during joins: p50 ${ms(loop.percentile(50))} ms, p99 ${
  ms(loop.percentile(99))} ms, max ${ms(loop.max)} ms`);
const mean = (total: number): string => (total / Math.max(1, stage.n)).toFixed(2);
console.log(`join stages (mean over ${stage.n}): parse→handler (auth, rate limits, ` +
  `validation) ${mean(stage.pre)} ms, handler ${mean(stage.handler)} ms, reply ${
    mean(stage.post)} ms, total ${mean(stage.total)} ms`);
batchSizes.sort((a, b) => a - b);
const batches = batchSizes.length;
const sum = batchSizes.reduce((a, b) => a + b, 0);
const at = (p: number): number => batchSizes[Math.min(batches - 1, Math.floor(p * batches))] ?? 0;
const riding = batchSizes.reduce((a, b) => a + b * b, 0) / Math.max(1, sum);
console.log(`batches: ${batches}, mean ${fmt(sum / Math.max(1, batches))} joins, p50 ${at(0.5)}, ` +
  `p90 ${at(0.9)}, max ${at(1 - 1e-9)}; the batch a join rode in: mean ${fmt(riding)}`);
let trips = 0;
let pgMs = 0;
console.log('PostgreSQL statements (timed at the client, BEGIN/COMMIT included):');
for (const [k, s] of [...statements].sort((a, b) => b[1].ms - a[1].ms)) {
  trips += s.n; pgMs += s.ms;
  console.log(`  ${String(s.n).padStart(7)} × mean ${fmt(s.ms / s.n, 2).padStart(7)} ms ` +
    `max ${fmt(s.max).padStart(7)}  ${k}`);
}
console.log(`  round trips per join ${fmt(trips / Math.max(1, joins), 3)}, per batch ${
  fmt(trips / Math.max(1, batches), 2)}; statement time per batch ${
  fmt(pgMs / Math.max(1, batches), 2)} ms`);
console.log('coordinator calls per join:');
for (const [k, n] of [...coordCalls].sort((a, b) => b[1] - a[1])) {
  console.log(`  ${fmt(n / Math.max(1, joins), 3).padStart(7)}  ${k}`);
}
if (admin !== undefined) {
  console.log('Redis commands per join (INFO commandstats, whole server: others count too):');
  for (const [k, n] of redisAfter) {
    const d = n - (redisBefore.get(k) ?? 0);
    if (d > 0) console.log(`  ${fmt(d / Math.max(1, joins), 3).padStart(7)}  ${k}`);
  }
}
console.log(`pg_stat_activity, mean sessions per sample over ${samples} samples:`);
for (const [k, n] of [...states].sort((a, b) => b[1] - a[1])) {
  console.log(`  ${(n / Math.max(1, samples)).toFixed(2).padStart(6)}  ${k}`);
}
if (profile !== undefined) await summarize(profile, 'the joins');
if (rejoinProfile !== undefined) await summarize(rejoinProfile, 'the re-joins');
