/**
 * Shoppers inside a crowd: where an admitted fan's hold and checkout wait while the rest of
 * the crowd keeps joining the line. A bounded reproduction of the large simulations' "a hold
 * takes about a second inside a crowd" (bounded: at most `seconds` of sale, ~2 minutes in
 * all), run as an operator runs it: the built `stampede serve` in a process of its own on
 * PostgreSQL and Redis (PG_POOL_MAX 40), loaded with bench/serverStages.mjs, which charges
 * every request's time to its stages (pool wait, statements, Redis, batch wait and run).
 *
 * The sale: 8,000 seats and 2,000 standing, admission 250 a second, at most 3,000 shoppers,
 * passes and holds 120 s. `shoppers` fans join first; then a crowd thread joins
 * `joinsPerSec` more fans a second behind them and polls `queue/me` for fans already in
 * line, while each shopper polls until admitted, holds (half best available, a third named
 * seats near the front, the rest standing; a refused hold is tried again, up to 3 times),
 * thinks about a second and checks out (sim_ok). PostgreSQL's sessions of the sale's
 * database are sampled every 50 ms (pg_stat_activity: what a backend is waiting on).
 *
 * `npx tsx bench/shoppers.ts [seconds=60] [joinsPerSec=800] [shoppers=3000]
 *   [pollsPerSec=300]`; build first (`npm run build:server`): the server is dist/.
 * SHOPPERS_SERVER_ENV='A=1,B=2' adds environment to the server (A/B of knobs);
 * SHOPPERS_DIST=<dir> runs the server from another build's dist/ (A/B of code);
 * SHOPPERS_REDIS_DB=<n> picks its Redis database (else a random one of 1-15).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import { Pool } from 'undici';
import { freePort } from '../src/core/ports.js';
import { benchPostgres, percentile } from './lib.js';

const args = process.argv.slice(2);
const seconds = Number(args[0] ?? 60);
const joinsPerSec = Number(args[1] ?? 800);
const shopperCount = Number(args[2] ?? 3000);
const pollsPerSec = Number(args[3] ?? 300);
const extraEnv = Object.fromEntries((process.env.SHOPPERS_SERVER_ENV ?? '')
  .split(',').filter((kv) => kv.includes('=')).map((kv) => kv.split('=', 2) as [string, string]));

interface Reply { status: number; body: Record<string, unknown>; ms: number }

// ---- the server, in a process of its own, with the stage tracer ----
const db = await benchPostgres(2);
const { rows: [dbRow] } = await db.query<{ d: string }>('SELECT current_database() AS d');
const dbName = (dbRow as { d: string }).d;
const dbUrl = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
dbUrl.pathname = `/${dbName}`;
const port = await freePort();
// SHOPPERS_REDIS_DB pins the Redis database (a shared box hands each bench run its own).
const redisDb = process.env.SHOPPERS_REDIS_DB === undefined
  ? 1 + Math.floor(Math.random() * 15) : Number(process.env.SHOPPERS_REDIS_DB);
const url = `http://127.0.0.1:${port}`;
const adminToken = randomBytes(24).toString('hex');
const dataDir = mkdtempSync(path.join(tmpdir(), 'stampede-bench-shoppers-'));
const dist = path.resolve(process.env.SHOPPERS_DIST ?? 'dist');
const server = spawn(process.execPath,
  ['--import', './bench/serverStages.mjs', `${dist}/src/cli/main.js`, 'serve'], {
    env: {
      ...process.env, DATABASE_URL: dbUrl.toString(),
      // A Redis database and key prefix of its own: each run is a deployment of its own (a
      // fresh database), refused on a prefix another deployment's claim still holds.
      REDIS_URL: `${process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'}/${redisDb}`,
      REDIS_KEY_PREFIX: `bench-shoppers-${randomBytes(4).toString('hex')}:`,
      PG_POOL_MAX: '40',
      PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: url, STAMPEDE_DATA_DIR: dataDir,
      STAMPEDE_ADMIN_TOKEN: adminToken, STAMPEDE_SEED_DEMO: 'false',
      PAYMENT_PROVIDER: 'simulated', STAMPEDE_SECRET: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'error', RATE_LIMIT_WRITES_PER_IP: '10000000',
      RATE_LIMIT_JOINS_PER_IP: '10000000', RATE_LIMIT_HOLDS_PER_IP: '10000000',
      RATE_LIMIT_QUEUE_POLLS_PER_CUSTOMER: '1000000', STAGES_DIST: dist, ...extraEnv,
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
type Stats = Record<string, unknown> & { kind: string };
function ask(message: 'stats' | 'reset'): Promise<Stats> {
  return new Promise((resolve) => {
    const onMessage = (reply: Stats): void => {
      if (reply.kind !== message) return;
      server.off('message', onMessage);
      resolve(reply);
    };
    server.on('message', onMessage);
    server.send(message);
  });
}
async function stopServer(): Promise<void> {
  if (server.exitCode === null) server.kill('SIGTERM');
  const exited = new Promise((resolve) => server.once('exit', resolve));
  await Promise.race([exited, sleep(20_000)]);
  if (server.exitCode === null) server.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
}
for (let waitedMs = 0; ; waitedMs += 250) {
  if (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)) break;
  if (waitedMs > 60_000 || server.exitCode !== null) throw new Error('server did not start');
  await sleep(250);
}

const client = new Pool(url, { connections: 1024, pipelining: 1 });
async function call(
  method: 'GET' | 'POST' | 'DELETE', urlPath: string, token: string, body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const t0 = performance.now();
  const response = await client.request({
    method, path: urlPath,
    headers: {
      authorization: `Bearer ${token}`, ...headers,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.body.text();
  const parsed = text === '' ? {} : JSON.parse(text) as Record<string, unknown>;
  return { status: response.statusCode, body: parsed, ms: performance.now() - t0 };
}
async function must(reply: Promise<Reply>, status: number, what: string): Promise<Reply> {
  const r = await reply;
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r;
}

// ---- the sale ----
const sections: Record<string, unknown>[] = [];
for (let s = 1; s <= 16; s++) {
  sections.push({ key: `S${s}`, name: `Section ${s}`, kind: 'seated',
    rows: Array.from({ length: 20 }, (_, r) => ({ label: String(r + 1), seats: 25 })) });
}
sections.push({ key: 'FLOOR', name: 'Floor', kind: 'standing', capacity: 2_000 });
const venue = await must(call('POST', '/api/v1/venues', adminToken,
  { name: 'Shoppers Arena', city: 'Bench', sections }), 201, 'venue');
const seatedKeys = sections.slice(0, 16).map((s) => s.key as string);
const event = await must(call('POST', '/api/v1/events', adminToken, {
  venueId: venue.body.venueId, title: 'Shoppers in a crowd',
  startsAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
  onSaleAt: new Date(Date.now() - 1_000).toISOString(),
  zones: [
    { key: 'front', name: 'Front', priceCents: 9_000, currency: 'EUR', sections: seatedKeys.slice(0, 8) },
    { key: 'back', name: 'Back', priceCents: 6_000, currency: 'EUR', sections: seatedKeys.slice(8) },
    { key: 'floor', name: 'Floor', priceCents: 7_000, currency: 'EUR', sections: ['FLOOR'] },
  ],
  holdSeconds: 120, maxTicketsPerCustomer: 8,
  queue: { enabled: true, admitPerMinute: 15_000, maxActiveShoppers: 3_000, passSeconds: 120 },
}), 201, 'event');
const eventId = String(event.body.eventId);
const map = await must(call('GET', `/api/v1/events/${eventId}/seatmap`, adminToken), 200, 'map');
const seatIds = (map.body.sections as { kind: string; rows: { seats: { id: string }[] }[] }[])
  .filter((s) => s.kind === 'seated').flatMap((s) => s.rows.flatMap((r) => r.seats.map((x) => x.id)));

async function register(count: number, tag: string): Promise<{ id: string; token: string }[]> {
  const out: { id: string; token: string }[] = [];
  const chunks = Array.from({ length: Math.ceil(count / 1000) }, (_, i) => i);
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < chunks.length) {
      const c = chunks[next++] as number;
      const n = Math.min(1000, count - c * 1000);
      const reply = await must(call('POST', '/api/v1/admin/customers/bulk', adminToken, {
        password: 'bench-password',
        customers: Array.from({ length: n }, (_, i) => ({
          email: `${tag}-${c * 1000 + i}@shoppers.bench.example`, name: `${tag} ${c * 1000 + i}`,
        })),
      }), 201, 'bulk registration');
      for (const a of reply.body.data as { customerId: string; token: string }[]) {
        out.push({ id: a.customerId, token: a.token });
      }
    }
  }));
  return out;
}
const setupStarted = performance.now();
const shoppers = await register(shopperCount, 'shopper');
const crowd = await register(Math.ceil(joinsPerSec * (seconds + 10)), 'fan');
// The shoppers are first in line.
{
  let next = 0;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < shoppers.length) {
      const s = shoppers[next++] as { token: string };
      let joined = await call('POST', `/api/v1/events/${eventId}/queue`, s.token, {});
      // A node shedding load (SHED_EVENT_LOOP_DELAY_MS) asks a join to come back later.
      for (let tries = 1; joined.status === 429 && tries < 30; tries++) {
        await sleep(1_000 * Number(joined.body.retryAfterSeconds ?? 1));
        joined = await call('POST', `/api/v1/events/${eventId}/queue`, s.token, {});
      }
      if (joined.status >= 300) throw new Error(`join: ${joined.status}`);
    }
  }));
}
process.stderr.write(`setup ${((performance.now() - setupStarted) / 1000).toFixed(0)} s: ` +
  `${shoppers.length} shoppers in line, ${crowd.length} fans to join\n`);

// ---- PostgreSQL's sessions, sampled; its backends' CPU ----
const sampler = new pg.Client({ connectionString: dbUrl.toString() });
await sampler.connect();
const waits = new Map<string, number>();
let samples = 0;
let sampling = true;
const samplerLoop = (async () => {
  while (sampling) {
    const { rows } = await sampler.query<{ k: string; n: number }>(
      `SELECT coalesce(state, '') || ' | ' || coalesce(wait_event_type, 'CPU') || ':' ||
              coalesce(wait_event, '-') || ' | ' ||
              left(regexp_replace(query, '\\s+', ' ', 'g'), 48) AS k, count(*)::int AS n
         FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()
          AND state IS DISTINCT FROM 'idle'
        GROUP BY 1`);
    samples++;
    for (const row of rows) waits.set(row.k, (waits.get(row.k) ?? 0) + row.n);
    await sleep(50);
  }
})();
async function backendCpuMs(): Promise<Map<number, number>> {
  const { rows } = await sampler.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database()');
  const out = new Map<number, number>();
  for (const { pid } of rows) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(pid, (Number(f[11]) + Number(f[12])) * 10);
    } catch { /* gone */ }
  }
  return out;
}
function boxCpu(): { busy: number; total: number } {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] as string).trim().split(/\s+/)
    .slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
}

// ---- the crowd and the shoppers ----
await ask('reset');
const cpu0 = await backendCpuMs();
const box0 = boxCpu();
const load0 = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const crowdWorker = new Worker(new URL('./crowd-worker.mjs', import.meta.url), {
  workerData: {
    url, eventId, tokens: crowd.map((c) => c.token), joinsPerSec, pollsPerSec, connections: 256,
  },
});
const startedAt = performance.now();
const deadline = startedAt + seconds * 1000;
interface Step { ms: number[]; statuses: Record<string, number> }
const steps = new Map<string, Step>();
function record(step: string, reply: Reply): void {
  const s = steps.get(step) ?? { ms: [], statuses: {} };
  s.ms.push(reply.ms);
  const code = reply.status >= 400 ? `${reply.status} ${String(reply.body.code ?? '')}` : String(reply.status);
  s.statuses[code] = (s.statuses[code] ?? 0) + 1;
  steps.set(step, s);
}
const outcomes: Record<string, number> = {};
const admittedAt: number[] = [];
const holdAt: number[] = [];
let seed = 12345;
const random = (): number => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};
function holdBody(): Record<string, unknown> {
  const quantity = 1 + Math.floor(random() * 4);
  const roll = random();
  if (roll < 0.5) return { zone: random() < 0.5 ? 'front' : 'back', quantity };
  if (roll < 0.8) {
    const start = Math.floor(random() ** 2 * (seatIds.length - quantity));
    return { seats: seatIds.slice(start, start + quantity) };
  }
  return { zone: 'floor', quantity };
}
async function shop(shopper: { token: string }, index: number): Promise<string> {
  await sleep(random() * 1_000);
  let pass: string | undefined;
  while (performance.now() < deadline) {
    const me = await call('GET', `/api/v1/events/${eventId}/queue/me`, shopper.token);
    record('queue/me (shopper)', me);
    if (me.body.state === 'admitted' && typeof me.body.pass === 'string') {
      pass = me.body.pass;
      break;
    }
    if (me.body.state === 'sold_out' || me.body.state === 'expired') return String(me.body.state);
    await sleep(1_500 + random() * 1_000);
  }
  if (pass === undefined) return 'not admitted';
  admittedAt.push(performance.now() - startedAt);
  let holdId: string | undefined;
  for (let attempt = 0; attempt < 3 && holdId === undefined; attempt++) {
    const body = holdBody();
    const reply = await call('POST', `/api/v1/events/${eventId}/holds`, shopper.token, body,
      { 'x-queue-pass': pass });
    record('seats' in body ? 'hold (named seats)' : 'hold (zone)', reply);
    if (reply.status === 201) holdId = String(reply.body.holdId);
    else if (reply.status !== 409) return `hold ${reply.status} ${String(reply.body.code)}`;
  }
  if (holdId === undefined) return 'no hold';
  holdAt.push(performance.now() - startedAt);
  await sleep(-Math.log(1 - random()) * 1_000);
  const paid = await call('POST', `/api/v1/holds/${holdId}/checkout`, shopper.token,
    { paymentMethod: 'sim_ok' }, { 'idempotency-key': `bench-${index}` });
  record('checkout', paid);
  return paid.status === 201 ? `order ${String(paid.body.status)}` : `checkout ${paid.status}`;
}
await Promise.all(shoppers.map(async (s, i) => {
  const outcome = await shop(s, i).catch((error: unknown) => `error ${String(error)}`);
  outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
}));
const elapsedMs = performance.now() - startedAt;
const serverStats = await ask('stats');
const cpu1 = await backendCpuMs();
const box1 = boxCpu();
crowdWorker.postMessage('stop');
const crowdSeen = await new Promise<Record<string, unknown>>((resolve) =>
  crowdWorker.once('message', resolve));
await crowdWorker.terminate();
sampling = false;
await samplerLoop;
let backendMs = 0;
for (const [pid, ms] of cpu1) backendMs += ms - (cpu0.get(pid) ?? 0);
await sampler.end();
await client.close();
await stopServer();
await db.close();

// ---- the report ----
const f1 = (n: number): string => n.toFixed(1);
const sale = elapsedMs / 1000;
const boxBusy = (box1.busy - box0.busy) / (box1.total - box0.total);
console.log(`\n== shoppers in a crowd: ${shopperCount} shoppers, ${joinsPerSec} joins/s, ` +
  `${pollsPerSec} polls/s, ${f1(sale)} s (load before ${load0}) ==`);
console.log(`outcomes: ${JSON.stringify(outcomes)}`);
const rate = (xs: number[]): string => xs.length < 2 ? '–'
  : f1(xs.length / ((Math.max(...xs) - Math.min(...xs)) / 1000));
console.log(`admitted ${admittedAt.length} (${rate(admittedAt)}/s while admitting), ` +
  `holds ${holdAt.length} (${rate(holdAt)}/s while holding)`);
console.log(`box CPU busy ${f1(boxBusy * 100)} %, server ${f1(Number(serverStats.cpuMs) / elapsedMs * 100)} % ` +
  `of a core (event loop ${f1(Number(serverStats.elu) * 100)} % busy, lag mean ` +
  `${f1(Number(serverStats.lagMeanMs))} ms, p99 ${f1(Number(serverStats.lagP99Ms))} ms), ` +
  `PostgreSQL backends ${f1(backendMs / elapsedMs * 100)} % of a core`);
const pool = serverStats.pool as { n: number; waiting: number; busy: number; waitingMax: number };
console.log(`pg pool (40): busy ${f1(pool.busy / Math.max(1, pool.n))} on average, waiting ` +
  `${f1(pool.waiting / Math.max(1, pool.n))} on average, ${pool.waitingMax} at most`);
console.log(`crowd: ${JSON.stringify(crowdSeen)}`);
console.log('\nclient side:');
for (const [step, s] of steps) {
  const sorted = [...s.ms].sort((a, b) => a - b);
  console.log(`  ${step.padEnd(20)} n ${String(sorted.length).padStart(6)}  mean ` +
    `${f1(sorted.reduce((a, b) => a + b, 0) / sorted.length).padStart(7)}  p50 ` +
    `${f1(percentile(sorted, 50)).padStart(7)}  p99 ${f1(percentile(sorted, 99)).padStart(7)} ms  ` +
    JSON.stringify(s.statuses));
}
interface RouteStats {
  n: number; total: number; pre: number; handler: number; post: number; p50: number;
  p99: number; spans: Record<string, { n: number; ms: number }>;
}
console.log('\nserver side, per request (mean ms; a stage\'s count is per request):');
const routes = Object.entries(serverStats.routes as Record<string, RouteStats>)
  .filter(([, r]) => r.n >= 20).sort((a, b) => b[1].n - a[1].n);
for (const [key, r] of routes) {
  console.log(`  ${key}: n ${r.n}, total ${f1(r.total / r.n)} (p50 ${f1(r.p50)}, p99 ` +
    `${f1(r.p99)}), before handler ${f1(r.pre / r.n)}, handler ${f1(r.handler / r.n)}, ` +
    `after ${f1(r.post / r.n)}`);
  for (const [span, v] of Object.entries(r.spans).sort((a, b) => b[1].ms - a[1].ms)) {
    if (v.ms / r.n < 0.05) continue;
    console.log(`      ${span.padEnd(64)} ${f1(v.ms / r.n).padStart(7)} ms  ×${(v.n / r.n).toFixed(2)}`);
  }
}
console.log('\nbatchers (per batch):');
for (const [name, b] of Object.entries(serverStats.batchers as Record<string, {
  batches: number; members: number; ms: number; spans: Record<string, { n: number; ms: number }>;
}>)) {
  console.log(`  ${name}: ${b.batches} batches, ${f1(b.members / b.batches)} members each, ` +
    `run ${f1(b.ms / b.batches)} ms`);
  for (const [span, v] of Object.entries(b.spans).sort((a, c) => c[1].ms - a[1].ms)) {
    if (v.ms / b.batches < 0.05) continue;
    console.log(`      ${span.padEnd(64)} ${f1(v.ms / b.batches).padStart(7)} ms`);
  }
}
console.log(`\nPostgreSQL sessions not idle, average over ${samples} samples (state | wait | query):`);
for (const [k, n] of [...waits].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
  console.log(`  ${(n / samples).toFixed(2).padStart(6)}  ${k}`);
}
