/**
 * `npx tsx bench/checkoutProfile.ts [holds] [seconds]`: where a checkout's time goes under
 * the checkout benchmark's load (32 connections from a load thread, pool of 20, `sim_ok`).
 * Reports, for the measured window: the node's CPU use, event-loop delay, time per database
 * statement as the node sees it (pool wait included) and how often each runs per checkout,
 * connection-pool waiters, what `pg_stat_activity` shows the node's connections doing, and
 * the server-side time of checkouts and of the webhooks the gateway sends back to the node.
 * Run it under `node --cpu-prof --import tsx` for a CPU profile of the same window. With
 * `--no-webhooks` the gateway sends none (what they cost is the difference).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createEvent, loadEvent } from '../src/catalog/events.js';
import { createVenue } from '../src/catalog/venues.js';
import { systemClock } from '../src/core/clock.js';
import { createHold } from '../src/holds/holds.js';
import { installPayments, simulatedWebhookSecret } from '../src/payments/index.js';
import { databaseLedger, SimulatedGateway } from '../src/payments/simulated.js';
import { settleBatchersFor } from '../src/orders/settleBatch.js';
import type { Db, Queryable } from '../src/storage/index.js';
import { buildTestContext } from '../src/testing/context.js';
import { buildCustomers } from '../src/testing/factories.js';
import { threadCpuMs } from './cpuProfile.js';
import { benchPostgres, loadHttp, percentile, postJson, startBenchServer } from './lib.js';

/** CPU seconds (user + system) a process has used, from /proc (Linux). */
function cpuSecondsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

interface Stat { n: number; ms: number[] }

const statements = new Map<string, Stat>();
let measuring = false;
const batchSizes: number[] = [];
let webhookItems = 0;
/** CPU ms of each thread of this process by thread name, from /proc/self/task. */
function threadsCpuMs(): Map<string, number> {
  const byName = new Map<string, number>();
  for (const task of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${task}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = (Number(fields[11]) + Number(fields[12])) * 10;
      const key = task === String(process.pid) ? 'server (main) thread' : name;
      byName.set(key, (byName.get(key) ?? 0) + ms);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return byName;
}

/** Characters of statement parameters sent to the database in the window. */
let paramChars = 0;

function note(key: string, ms: number): void {
  if (!measuring) return;
  const stat = statements.get(key) ?? { n: 0, ms: [] };
  stat.n++;
  stat.ms.push(ms);
  statements.set(key, stat);
}

function timed(db: Db): Db {
  const keyOf = (sql: string): string => sql.replace(/\s+/g, ' ').trim().slice(0, 70);
  const run = async <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await work();
    } finally {
      note(key, performance.now() - t0);
    }
  };
  const inTx = (q: Queryable): Queryable => ({
    query: (sql, params) => run(`  tx: ${keyOf(sql)}`, () => q.query(sql, params)),
    exec: (sql) => q.exec(sql),
  });
  return {
    ...db,
    query: (sql, params) => {
      if (measuring) {
        for (const param of params ?? []) {
          paramChars += typeof param === 'string' ? param.length
            : Array.isArray(param) ? JSON.stringify(param).length : String(param).length;
        }
      }
      if (sql.includes('settle_batch(') && measuring) {
        const items = JSON.parse(String(params?.[1])) as { ev?: unknown }[];
        batchSizes.push(items.length);
        webhookItems += items.filter((item) => item.ev !== undefined).length;
      }
      return run(keyOf(sql), () => db.query(sql, params));
    },
    tx: (work, options) => run('tx (whole, BEGIN..COMMIT)', () =>
      db.tx(async (tx) => await work(inTx(tx)), options)),
  };
}

const total = Number(process.argv[2] ?? 3_000);
const seconds = Number(process.argv[3] ?? 10);
const clients = Number(process.argv[4] ?? 32);
const webhooks = !process.argv.includes('--no-webhooks');
const raw = await benchPostgres(20);
const db = timed(raw);
const watcher = await benchPostgres(1);
try {
  const ctx = buildTestContext(raw);
  const venue = await createVenue(raw, { name: 'Profile Hall', city: 'Benchtown',
    sections: [{ key: 'FLOOR', name: 'Floor', kind: 'standing', capacity: 20_000 }] });
  const created = await createEvent(raw, systemClock, {
    venueId: venue.venueId, title: 'Profile Night', holdSeconds: 3600,
    startsAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
    onSaleAt: new Date(Date.now() - 1000).toISOString(),
    zones: [{ key: 'floor', name: 'Floor', priceCents: 4000, currency: 'EUR',
      sections: ['FLOOR'] }],
  });
  const event = await loadEvent(raw, created.eventId);
  const fans = await buildCustomers(ctx, total);
  const holds: string[] = [];
  for (const fan of fans) {
    holds.push((await createHold(raw, event, fan.customerId, { zone: 'floor', quantity: 2 }))
      .holdId);
  }
  if (process.env.ANALYZE_FIRST !== undefined) await raw.query('ANALYZE');
  const analyzed = async (): Promise<string> => (await raw.query<{ t: string }>(
    `SELECT string_agg(relname || ' ' || coalesce(to_char(greatest(last_analyze, last_autoanalyze),
       'HH24:MI:SS'), 'never'), ', ' ORDER BY relname) AS t
       FROM pg_stat_user_tables
      WHERE relname IN ('tickets', 'hold_items', 'holds', 'orders', 'payments')`)).rows[0]?.t ?? '';
  const analyzedBefore = await analyzed();
  // Rows read by sequential scans, by table: plans made while a table was small (no
  // statistics here, autovacuum off) keep scanning it as it grows.
  const seqScans = async (): Promise<Map<string, [number, number]>> => new Map(
    (await raw.query<{ relname: string; n: string; tup: string }>(
      `SELECT relname, seq_scan AS n, seq_tup_read AS tup FROM pg_stat_user_tables
        WHERE relname IN ('tickets', 'hold_items', 'holds', 'orders', 'payments',
                          'provider_events', 'idempotency_keys', 'order_tickets')`)).rows
      .map((row) => [row.relname, [Number(row.n), Number(row.tup)]]));
  const server = await startBenchServer(db, { connections: 32 });
  if (!webhooks) {
    installPayments(server.ctx, new SimulatedGateway({
      secret: simulatedWebhookSecret(server.ctx.secrets.secret), clock: server.ctx.clock,
      deliver: async () => undefined, ledger: databaseLedger(server.ctx.db),
    }));
  }
  // Time from an item's submission to its result (queue wait + batch), by kind of item.
  const batchers = settleBatchersFor(db);
  const submit = batchers.submit.bind(batchers);
  batchers.submit = async (provider, item, unguarded) => {
    const t0 = performance.now();
    try {
      return await submit(provider, item, unguarded);
    } finally {
      note(item.providerEvent === undefined ? 'settle item of a checkout (queue + batch)'
        : 'settle item of a webhook (queue + batch)', performance.now() - t0);
    }
  };
  const routes = new Map<string, number[]>();
  // Server-side time per request, from the socket's request event to the reply's finish.
  server.app.server.on('request', (request, response) => {
    if (!measuring) return;
    const t0 = performance.now();
    response.on('finish', () => {
      const path = (request.url ?? '').replace(/[0-9a-f-]{36}/g, ':id');
      const key = `${request.method ?? ''} ${path} ${response.statusCode}`;
      const list = routes.get(key) ?? [];
      list.push(performance.now() - t0);
      routes.set(key, list);
    });
  });
  const { rows: [{ name: dbName } = { name: '' }] } = await raw.query<{ name: string }>(
    'SELECT current_database() AS name');
  const backendsSql =
    'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()';
  const backendCpu0 = new Map<number, number>();
  for (const { pid } of (await watcher.query<{ pid: number }>(backendsSql, [dbName])).rows) {
    backendCpu0.set(pid, cpuSecondsOf(pid));
  }
  const backendsSeen = new Set<number>(backendCpu0.keys());
  const waits = new Map<string, number>();
  const poolWaiting: number[] = [];
  let samples = 0;
  const sampler = setInterval(() => {
    if (!measuring) return;
    poolWaiting.push(raw.poolStats?.().waiting ?? 0);
    void watcher.query<{ pid: number }>(backendsSql, [dbName]).then(({ rows }) => {
      for (const { pid } of rows) backendsSeen.add(pid);
    }).catch(() => undefined); // timed out in the pool of one, or in flight at the end
    void watcher.query<{ state: string; wait: string; n: number }>(
      `SELECT coalesce(state, '?') AS state,
              coalesce(wait_event_type || ':' || wait_event, 'cpu/none') AS wait, count(*)::int AS n
         FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()
        GROUP BY 1, 2`, [dbName]).then(({ rows }) => {
      samples++;
      for (const row of rows) {
        const key = `${row.state} / ${row.wait}`;
        waits.set(key, (waits.get(key) ?? 0) + row.n);
      }
    }).catch(() => undefined);
  }, 20);
  try {
    const specs = holds.map((holdId, i) => postJson(`/api/v1/holds/${holdId}/checkout`,
      { paymentMethod: 'sim_ok' }, {
        authorization: `Bearer ${fans[i]?.token ?? ''}`, 'idempotency-key': `profile-${i}`,
      }));
    // The main thread's CPU profile of the measured window only (setup left out).
    const profileOut = process.env.CPU_PROFILE;
    const inspector = new Session();
    if (profileOut !== undefined) {
      inspector.connect();
      await inspector.post('Profiler.enable');
      await inspector.post('Profiler.setSamplingInterval', { interval: 200 });
      await inspector.post('Profiler.start');
    }
    const loop = monitorEventLoopDelay({ resolution: 10 });
    const scans0 = await seqScans();
    const cpu0 = process.cpuUsage();
    const thread0 = threadCpuMs();
    const threads0 = threadsCpuMs();
    const t0 = performance.now();
    measuring = true;
    loop.enable();
    const row = await loadHttp('checkout', server.url, specs,
      { concurrency: clients, maxMs: seconds * 1000, warmup: 20 });
    // The checkouts' webhooks (two each) are part of their cost: the window closes when the
    // last of them has been handled (or 20 s later).
    const count = (prefix: string): number => [...routes].filter(([key]) => key.startsWith(prefix))
      .reduce((sum, [, list]) => sum + list.length, 0);
    const drainUntil = performance.now() + 20_000;
    while (webhooks
      && count('POST /api/v1/payments/webhooks') < 2 * count('POST /api/v1/holds')
      && performance.now() < drainUntil) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    measuring = false;
    loop.disable();
    if (profileOut !== undefined) {
      const { profile } = await inspector.post('Profiler.stop');
      writeFileSync(profileOut, JSON.stringify(profile));
      inspector.disconnect();
    }
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const threadMs = threadCpuMs() - thread0;
    const threads1 = threadsCpuMs();
    // Statistics reach the view when each backend reports them (about once a second).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const scans1 = await seqScans();
    let backendSeconds = 0;
    for (const pid of backendsSeen) {
      const used = cpuSecondsOf(pid) - (backendCpu0.get(pid) ?? 0);
      if (Number.isFinite(used)) backendSeconds += used;
    }
    // Every checkout the server answered in the window (warm-up included), as the CPU is.
    const checkouts = count('POST /api/v1/holds');
    const out: string[] = [];
    out.push(`window ${(wallMs / 1000).toFixed(1)} s including the webhook drain; ` +
      `${(checkouts / wallMs * 1000).toFixed(1)} checkouts/s with their webhooks`);
    out.push(`checkout: ${row.opsPerSec.toFixed(1)}/s, p50 ${row.p50Ms.toFixed(0)} ms, ` +
      `p99 ${row.p99Ms.toFixed(0)} ms, ${row.ops} measured, ` +
      `statuses ${JSON.stringify(row.statuses)}`);
    out.push(`last analyzed before: ${analyzedBefore}; after: ${await analyzed()}`);
    out.push(`node process CPU: ${((cpu.user + cpu.system) / 1000 / wallMs * 100).toFixed(0)} % ` +
      `of one core over ${(wallMs / 1000).toFixed(1)} s (user ${(cpu.user / 1e6).toFixed(1)} s, ` +
      `system ${(cpu.system / 1e6).toFixed(1)} s; the load thread included)`);
    const nodeMs = (cpu.user + cpu.system) / 1000 / checkouts;
    const pgMs = backendSeconds * 1000 / checkouts;
    out.push(`CPU per checkout: node ${nodeMs.toFixed(2)} ms (server, webhooks both ways and ` +
      `the load thread), PostgreSQL backends ${pgMs.toFixed(2)} ms ` +
      `(${backendsSeen.size} backends); 2 cores / that = ` +
      `${(2000 / (nodeMs + pgMs)).toFixed(0)} checkouts/s at most`);
    out.push(`server thread CPU per checkout (its /proc task, 10 ms ticks): ` +
      `${(threadMs / checkouts).toFixed(2)} ms; statement parameters sent: ` +
      `${(paramChars / checkouts / 1024).toFixed(2)} kB per checkout`);
    out.push(`CPU per checkout by thread (ms): ${[...threads1].map(([name, ms]) =>
      [name, (ms - (threads0.get(name) ?? 0)) / checkouts] as const)
      .filter(([, ms]) => ms > 0).sort((a, b) => b[1] - a[1])
      .map(([name, ms]) => `${name} ${ms.toFixed(2)}`).join(', ')}`);
    out.push(`sequential scans per checkout (scans, rows read): ${[...scans1].map(
      ([name, [n, tup]]) => [name, (n - (scans0.get(name)?.[0] ?? 0)) / checkouts,
        (tup - (scans0.get(name)?.[1] ?? 0)) / checkouts] as const)
      .filter(([, n]) => n > 0).map(([name, n, tup]) =>
        `${name} ${n.toFixed(2)}, ${tup.toFixed(0)}`).join('; ')}`);
    out.push(`load average at the end: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
    // The histogram holds whole timer intervals: less the 10 ms resolution is the delay.
    const late = (ns: number): string => Math.max(0, ns / 1e6 - 10).toFixed(1);
    out.push(`event-loop delay: p50 ${late(loop.percentile(50))} ms, ` +
      `p99 ${late(loop.percentile(99))} ms, max ${late(loop.max)} ms`);
    const sortedWaiting = [...poolWaiting].sort((a, b) => a - b);
    out.push(`pool waiters (sampled every 20 ms): p50 ${percentile(sortedWaiting, 50)}, ` +
      `p99 ${percentile(sortedWaiting, 99)}, max ${sortedWaiting.at(-1) ?? 0}`);
    const sizes = [...batchSizes].sort((a, b) => a - b);
    out.push(`settle batches: ${sizes.length}, items p50 ${percentile(sizes, 50)}, ` +
      `max ${sizes.at(-1) ?? 0}, webhook items ${webhookItems} of ` +
      `${sizes.reduce((a, b) => a + b, 0)}`);
    out.push('', 'server-side time per route (ms): count, p50, p99, sum/checkout');
    for (const [key, list] of [...routes].sort((a, b) => b[1].length - a[1].length)) {
      const sorted = list.sort((a, b) => a - b);
      const sum = sorted.reduce((a, b) => a + b, 0);
      out.push(`  ${key}: ${sorted.length}, ${percentile(sorted, 50).toFixed(1)}, ` +
        `${percentile(sorted, 99).toFixed(1)}, ${(sum / checkouts).toFixed(1)}`);
    }
    out.push('', 'statement time as the node sees it (ms, pool wait included): ' +
      'per checkout, p50, p99, sum/checkout');
    for (const [key, stat] of [...statements].sort((a, b) =>
      b[1].ms.reduce((x, y) => x + y, 0) - a[1].ms.reduce((x, y) => x + y, 0))) {
      const sorted = stat.ms.sort((a, b) => a - b);
      const sum = sorted.reduce((a, b) => a + b, 0);
      out.push(`  ${(stat.n / checkouts).toFixed(2)}× p50 ${percentile(sorted, 50).toFixed(1)} ` +
        `p99 ${percentile(sorted, 99).toFixed(1)} sum ${(sum / checkouts).toFixed(1)}  ${key}`);
    }
    out.push('', `pg_stat_activity of this database (${samples} samples, mean connections):`);
    for (const [key, n] of [...waits].sort((a, b) => b[1] - a[1])) {
      out.push(`  ${(n / samples).toFixed(2)}  ${key}`);
    }
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    clearInterval(sampler);
    await server.close();
  }
} finally {
  await watcher.close();
  await raw.close();
}
