/**
 * What the zone views' full reads (src/inventory/zoneView.ts `readZone`) cost PostgreSQL
 * under a best-available hold load, with the views kept by reads alone (A: read again
 * every `limits.zoneViewRefreshMs`, the `unfed` seam) or by the live feed (B: read at
 * first use, on a gap, and every `limits.zoneViewFedRefreshMs`). Two store nodes over one
 * PostgreSQL database, each with its own coordinator (Redis, or one shared in-process
 * coordinator with `--coord=memory`), the outbox relay on a third context; a 40,000-seat
 * venue in four seated zones of 10,000; `--clients` loops of best available ×2 spread over
 * the nodes and zones, half of the holds released again at once (so the feed carries
 * releases too). Runs alternate A, B, A, B, ... (`--pairs`, each `--seconds` long on a
 * fresh event).
 *
 * Per run: reads per second per zone (both nodes' views, counted by the views: the first in
 * full, later ones of the unsold tickets only), one full read's execution time on the run's
 * final state (EXPLAIN ANALYZE), the reads' PostgreSQL time per second per zone
 * (`pg_stat_activity` sampled about every 5 ms: the mean number of sessions running one ×
 * the run's length), the hold rate and p50/p99, CPU per hold
 * (this process, and the database's sessions of this run from /proc) and the load average
 * at the end.
 *
 * `npx tsx bench/zoneViewFeed.ts [--pairs=3] [--seconds=20] [--clients=32]`
 *   `[--coord=redis|memory] [--first=B]` (B's run first in each pair)
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import pg from 'pg';
import type { AppContext } from '../src/context.js';
import { createMemoryCoordinator } from '../src/coord/memory.js';
import { createRedisCoordinator, type Coordinator } from '../src/coord/index.js';
import { createEvent } from '../src/catalog/events.js';
import { createVenue } from '../src/catalog/venues.js';
import { buildApp } from '../src/http/app.js';
import type { App } from '../src/http/types.js';
import { readZoneSql } from '../src/inventory/zoneView.js';
import { liveFeedSink } from '../src/outbox/feed.js';
import { OutboxRelay } from '../src/outbox/relay.js';
import type { Db } from '../src/storage/index.js';
import { buildTestContext } from '../src/testing/context.js';
import { insertCustomerRows } from '../src/testing/factories.js';
import { deleteRedisPrefix, testDatabaseUrl, testRedisUrl } from '../src/testing/services.js';
import { benchPostgres, fmt, percentile } from './lib.js';

const args = new Map(process.argv.slice(2).map((arg) => {
  const [key, value] = arg.replace(/^--/, '').split('=');
  return [key ?? '', value ?? ''];
}));
const pairs = Number(args.get('pairs') ?? 3);
const seconds = Number(args.get('seconds') ?? 20);
const clients = Number(args.get('clients') ?? 32);
const coordKind = args.get('coord') ?? 'redis';
const zones = ['z1', 'z2', 'z3', 'z4'];
/** Every request comes from one address: the per-address and per-customer limits off. */
const unlimited = { RATE_LIMIT_HOLDS_PER_IP: '10000000', RATE_LIMIT_HOLDS_PER_CUSTOMER: '1000000',
  RATE_LIMIT_WRITES_PER_IP: '10000000' };
const prefix = `bench:zoneviewfeed:${randomUUID().slice(0, 8)}:`;

interface Node {
  app: App;
  ctx: AppContext;
}

interface RunFigures {
  mode: 'A reads' | 'B feed';
  holds: number;
  refusals: number;
  holdsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  readsPerSecondPerZone: number;
  readZonePgMsPerSecondPerZone: number;
  /** One readZone's execution time on the run's final state (EXPLAIN ANALYZE), ms. */
  readZoneExecMs: number;
  appCpuMsPerHold: number;
  pgCpuMsPerHold: number;
  load: string;
}

function coordinator(shared: { coord?: Coordinator }, name: string): Coordinator {
  if (coordKind === 'memory') return (shared.coord ??= createMemoryCoordinator({}));
  return createRedisCoordinator({ url: testRedisUrl, prefix, name: `bench-zvf-${name}`,
    logger: { warn: () => undefined } });
}

/** A fresh event on a 40,000-seat venue: four seated sections of 100 rows × 100, a zone each. */
async function buildBigEvent(ctx: AppContext): Promise<string> {
  const venue = await createVenue(ctx.db, {
    name: 'Bench Arena', city: 'Benchville',
    sections: zones.map((zone) => ({
      key: zone.toUpperCase(), name: zone, kind: 'seated' as const,
      rows: Array.from({ length: 100 }, (_, i) => ({ label: String(i + 1), seats: 100 })),
    })),
  });
  const now = Date.now();
  const event = await createEvent(ctx.db, ctx.clock, {
    venueId: venue.venueId, title: 'Bench', startsAt: new Date(now + 86_400_000).toISOString(),
    onSaleAt: new Date(now - 60_000).toISOString(), maxTicketsPerCustomer: 8,
    zones: zones.map((zone) => ({ key: zone, name: zone, priceCents: 5_000, currency: 'EUR',
      sections: [zone.toUpperCase()] })),
  });
  return event.eventId;
}

/** CPU ms (user + system) of processes by pid, read from /proc; missing ones are skipped. */
function cpuMsOf(pids: readonly number[]): number {
  const tick = 1000 / 100;
  let total = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) * tick;
    } catch {
      // The session ended, or the database is not on this machine.
    }
  }
  return total;
}

async function sessionPids(monitor: pg.Client, database: string): Promise<number[]> {
  const { rows } = await monitor.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [database]);
  return rows.map((row) => row.pid);
}

/** One readZone of the first zone on the current state, executed by the server, ms. */
async function explainRead(monitor: pg.Client, eventId: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const { rows } = await monitor.query<{ 'QUERY PLAN': [{ 'Execution Time': number }] }>(
      `EXPLAIN (ANALYZE, FORMAT JSON) ${readZoneSql}`, [eventId, zones[0]]);
    times.push(rows[0]?.['QUERY PLAN'][0]['Execution Time'] ?? 0);
  }
  return Math.min(...times);
}

async function run(
  mode: RunFigures['mode'], nodes: readonly Node[], reads: { count: number },
  monitor: pg.Client, database: string,
): Promise<RunFigures> {
  const owner = nodes[0] as Node;
  const eventId = await buildBigEvent(owner.ctx);
  const perCustomer = 3;
  const customerIds = await insertCustomerRows(owner.ctx.db, clients * 400);
  let nextCustomer = 0;
  const latencies: number[] = [];
  let refusals = 0;
  // Every view read at first use before the clock starts (both modes read them once).
  await Promise.all(nodes.flatMap((node) => zones.map(async (zone) => {
    const token = node.ctx.tokens.issue(customerIds[nextCustomer++] as string);
    await node.app.inject({ method: 'POST', url: `/api/v1/events/${eventId}/holds`,
      headers: { authorization: `Bearer ${token}` }, payload: { zone, quantity: 2 } });
  })));
  const pidsBefore = await sessionPids(monitor, database);
  const pgCpuBefore = new Map(pidsBefore.map((pid) => [pid, cpuMsOf([pid])]));
  const cpuBefore = process.cpuUsage();
  reads.count = 0;
  // Sessions of this database running a view's read (full or unsold), sampled as fast as
  // one connection allows.
  let sessionsSeen = 0;
  let samples = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const { rows } = await monitor.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid()
            AND (query LIKE '%array_agg(seat_number ORDER BY seat_number)%'
                 OR query LIKE '%zone_free_seats(%')`, [database]);
      sessionsSeen += rows[0]?.n ?? 0;
      samples += 1;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  const startedMs = performance.now();
  const endMs = startedMs + seconds * 1000;
  await Promise.all(Array.from({ length: clients }, async (_, loop) => {
    let customerId = customerIds[nextCustomer++] as string;
    let used = 0;
    for (let i = 0; performance.now() < endMs; i++) {
      if (used >= perCustomer) {
        customerId = customerIds[nextCustomer++] as string;
        used = 0;
      }
      const node = nodes[(loop + i) % nodes.length] as Node;
      const token = node.ctx.tokens.issue(customerId);
      const zone = zones[Math.floor(Math.random() * zones.length)] as string;
      const t0 = performance.now();
      const response = await node.app.inject({
        method: 'POST', url: `/api/v1/events/${eventId}/holds`,
        headers: { authorization: `Bearer ${token}` }, payload: { zone, quantity: 2 },
      });
      latencies.push(performance.now() - t0);
      if (response.statusCode !== 201) {
        refusals += 1;
        continue;
      }
      used += 1;
      if (Math.random() < 0.5) {
        const holdId = (response.json() as { holdId: string }).holdId;
        const other = nodes[(loop + i + 1) % nodes.length] as Node;
        await other.app.inject({ method: 'DELETE', url: `/api/v1/holds/${holdId}`,
          headers: { authorization: `Bearer ${token}` } });
        used -= 1;
      }
    }
  }));
  const elapsedS = (performance.now() - startedMs) / 1000;
  sampling = false;
  await sampler;
  const cpu = process.cpuUsage(cpuBefore);
  const pidsAfter = await sessionPids(monitor, database);
  let pgCpuMs = 0;
  for (const pid of new Set([...pidsBefore, ...pidsAfter])) {
    pgCpuMs += cpuMsOf([pid]) - (pgCpuBefore.get(pid) ?? 0);
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const holds = latencies.length - refusals;
  // The share of samples a session spent in readZone, times the run: its busy time.
  const sampledMs = samples === 0 ? 0 : (sessionsSeen / samples) * elapsedS * 1000;
  const explained = await explainRead(monitor, eventId);
  return {
    mode, holds, refusals,
    holdsPerSecond: holds / elapsedS,
    p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99),
    readsPerSecondPerZone: reads.count / elapsedS / zones.length,
    readZonePgMsPerSecondPerZone: sampledMs / elapsedS / zones.length,
    readZoneExecMs: explained,
    appCpuMsPerHold: (cpu.user + cpu.system) / 1000 / Math.max(1, holds),
    pgCpuMsPerHold: pgCpuMs / Math.max(1, holds),
    load: loadavg().map((x) => x.toFixed(2)).join(' '),
  };
}

async function main(): Promise<void> {
  const db: Db = await benchPostgres(20);
  const database = (await db.query<{ name: string }>('SELECT current_database() AS name'))
    .rows[0]?.name as string;
  // On the run's database (for EXPLAIN); pg_stat_activity shows every database's sessions.
  const url = new URL(testDatabaseUrl);
  url.pathname = `/${database}`;
  const monitor = new pg.Client({ connectionString: url.toString() });
  await monitor.connect();
  const shared: { coord?: Coordinator } = {};
  const coords: Coordinator[] = [];
  const make = (name: string): Coordinator => {
    const coord = coordinator(shared, name);
    if (!coords.includes(coord)) coords.push(coord);
    return coord;
  };
  const reads = { count: 0 };
  const nodeOf = async (name: string, unfed: boolean): Promise<Node> => {
    const ctx = buildTestContext(db, { coord: make(name), env: unlimited, seams: { zoneViews: {
      unfed, read: () => {
        reads.count += 1;
      },
    } } });
    const app = await buildApp(ctx);
    await app.ready();
    return { app, ctx };
  };
  const worker = buildTestContext(db, { coord: make('relay') });
  const relay = new OutboxRelay(worker, { sinks: [liveFeedSink(worker.coord)],
    holderId: 'bench-zvf-relay' });
  await relay.start();
  const results: RunFigures[] = [];
  try {
    for (let pair = 0; pair < pairs; pair++) {
      const order = args.get('first') === 'B'
        ? (['B feed', 'A reads'] as const) : (['A reads', 'B feed'] as const);
      for (const mode of order) {
        // Fresh nodes per run: each mode's views start cold, as after a deploy.
        const tag = mode === 'A reads' ? 'a' : 'b';
        const nodes = [await nodeOf(`${tag}-1`, mode === 'A reads'),
          await nodeOf(`${tag}-2`, mode === 'A reads')];
        const figures = await run(mode, nodes, reads, monitor, database);
        for (const node of nodes) await node.app.close();
        results.push(figures);
        console.log(JSON.stringify(figures));
      }
    }
  } finally {
    await relay.stop();
    await monitor.end();
    for (const coord of coords) await coord.close().catch(() => undefined);
    if (coordKind === 'redis') await deleteRedisPrefix(prefix);
    await db.close();
  }
  console.log('\n| run | holds/s | p50 ms | p99 ms | reads/s/zone | readZone ms (exec) '
    + '| readZone PG ms/s/zone | app CPU ms/hold | PG CPU ms/hold | refusals | load |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.mode} | ${fmt(r.holdsPerSecond, 0)} | ${fmt(r.p50Ms)} | ${fmt(r.p99Ms)} `
      + `| ${fmt(r.readsPerSecondPerZone, 2)} | ${fmt(r.readZoneExecMs)} `
      + `| ${fmt(r.readZonePgMsPerSecondPerZone, 2)} `
      + `| ${fmt(r.appCpuMsPerHold, 2)} | ${fmt(r.pgCpuMsPerHold, 2)} | ${r.refusals} `
      + `| ${r.load} |`);
  }
}

await main();
