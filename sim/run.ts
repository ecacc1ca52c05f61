/**
 * `stampede simulate`: sets up a target (a running server, or one started here), a crowd
 * and an event, runs the crowd, audits the invariants from the database and writes the
 * report. Exits non-zero when the audit finds a violation.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { boot, shutdown } from '../src/boot.js';
import { loadConfig } from '../src/config/index.js';
import type { AppContext } from '../src/context.js';
import { randomToken } from '../src/core/ids.js';
import { freePort } from '../src/core/ports.js';
import { buildApp } from '../src/http/app.js';
import { startWorker } from '../src/roles/worker.js';
import { createPostgresDb } from '../src/storage/postgres.js';
import type { Db, Queryable } from '../src/storage/index.js';
import { auditEvent, type AuditReport } from './audit.js';
import { CrowdEngine, type Customer, type SimEvent } from './engine.js';
import { SimClient, type ReplyObserver } from './http.js';
import { Recorder } from './metrics.js';
import type { SimOptions } from './options.js';
import { renderHtml, renderText, type EtaSample, type Fairness, type SimReport } from './report.js';
import { Rng } from './rng.js';
import { endOfSale, etaOverTime, medianRelative, refusals } from './endsale.js';
import { kendallTau } from './stats.js';

interface Target {
  url: string;
  adminToken: string;
  /** Database for the audit, when reachable. */
  db: Db | undefined;
  close(): Promise<void>;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

/** Starts a server in this process: PostgreSQL/Redis from the environment, else embedded. */
async function startLocalTarget(env: NodeJS.ProcessEnv): Promise<Target> {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'stampede-sim-'));
  const config = loadConfig({
    ...env, PORT: String(port), HOST: '127.0.0.1', STAMPEDE_DATA_DIR: dataDir,
    STAMPEDE_SEED_DEMO: 'false', LOG_LEVEL: env.SIM_LOG_LEVEL ?? 'warn',
    // One simulator address stands for the whole crowd: lift the per-address caps (the
    // per-customer limits stay as configured).
    RATE_LIMIT_WRITES_PER_IP: '10000000', RATE_LIMIT_JOINS_PER_IP: '10000000',
    RATE_LIMIT_HOLDS_PER_IP: '10000000', PUBLIC_URL: `http://127.0.0.1:${port}`,
    // A simulated sale on a database server names its gateway and key like any server node.
    PAYMENT_PROVIDER: nonEmpty(env.PAYMENT_PROVIDER) ?? 'simulated',
    STAMPEDE_SECRET: nonEmpty(env.STAMPEDE_SECRET) ?? randomToken(32),
  });
  const ctx: AppContext = await boot(config);
  const worker = await startWorker(ctx);
  const app = await buildApp(ctx);
  await app.listen({ port, host: '127.0.0.1' });
  return {
    url: `http://127.0.0.1:${port}`,
    adminToken: ctx.secrets.adminToken,
    db: ctx.db,
    async close() {
      await app.close();
      await worker.stop();
      await shutdown(ctx);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function remoteTarget(options: SimOptions): Promise<Target> {
  if (options.adminToken === undefined) {
    throw new Error('--url needs --admin-token (or STAMPEDE_ADMIN_TOKEN) to set up the sale');
  }
  const db = options.auditDatabaseUrl === undefined ? undefined : createPostgresDb({
    url: options.auditDatabaseUrl, poolMax: 2, connectTimeoutMs: 5_000,
    statementTimeoutMs: 120_000, lockTimeoutMs: 5_000, idleInTransactionTimeoutMs: 60_000,
  });
  return {
    url: options.url as string, adminToken: options.adminToken, db,
    async close() {
      await db?.close();
    },
  };
}

/** Creates the crowd's accounts in bulk (one password hash per thousand accounts). */
async function createCrowd(client: SimClient, adminToken: string, options: SimOptions,
  arrivals: number[]): Promise<Customer[]> {
  const run = `${Date.now().toString(36)}-${options.seed}`;
  const customers: Customer[] = [];
  const batches: number[][] = [];
  for (let start = 0; start < options.customers; start += 1000) {
    batches.push(Array.from({ length: Math.min(1000, options.customers - start) }, (_, i) => start + i));
  }
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batches.length) {
      const batch = batches[next++] as number[];
      const reply = await client.json('create accounts (bulk)', 'POST', '/api/v1/admin/customers/bulk', {
        headers: { authorization: `Bearer ${adminToken}` },
        body: {
          password: `sim-${run}-password`,
          customers: batch.map((i) => ({ email: `fan-${i}@${run}.sim.example`, name: `Fan ${i}` })),
        },
      });
      if (reply.status !== 201) throw new Error(`bulk registration answered ${reply.status}`);
      for (const account of reply.body.data as { customerId: string; email: string; token: string }[]) {
        const index = Number(/^fan-(\d+)@/.exec(account.email)?.[1]);
        customers.push({
          index, customerId: account.customerId, token: account.token,
          arriveAtMs: arrivals[index] as number, phase: 'pending', number: null, tickets: 0,
        });
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  customers.sort((a, b) => a.arriveAtMs - b.arriveAtMs || a.index - b.index);
  // Index = arrival order, so fairness compares against it directly.
  customers.forEach((customer, i) => {
    customer.index = i;
  });
  return customers;
}

/** Arrival times: a share before on-sale (uniform), the rest in an exponential burst after. */
function arrivalSchedule(options: SimOptions): number[] {
  const rng = new Rng(options.seed);
  const onSaleMs = options.preOnSaleSeconds * 1000;
  const limitMs = options.maxSeconds * 1000 * 0.8;
  return Array.from({ length: options.customers }, () => {
    if (rng.chance(options.earlyFraction) && onSaleMs > 0) return rng.next() * onSaleMs;
    return Math.min(limitMs, onSaleMs + rng.exponential(options.burstSeconds * 1000));
  });
}

function venueBody(options: SimOptions): Record<string, unknown> {
  const sections: Record<string, unknown>[] = [];
  let left = options.seats;
  for (let s = 1; left > 0; s++) {
    const rows: { label: string; seats: number }[] = [];
    for (let r = 1; r <= 20 && left > 0; r++) {
      const seats = Math.min(25, left);
      rows.push({ label: String(r), seats });
      left -= seats;
    }
    sections.push({ key: `S${s}`, name: `Section ${s}`, kind: 'seated', rows });
  }
  if (options.standing > 0) {
    sections.push({ key: 'FLOOR', name: 'Floor', kind: 'standing', capacity: options.standing });
  }
  return { name: 'Simulation Arena', city: 'Simulation', sections };
}

/** Creates the venue and event, returning what the crowd needs to know about it. */
async function setUpEvent(client: SimClient, adminToken: string, options: SimOptions,
  startedAtEpochMs: number): Promise<string> {
  const headers = { authorization: `Bearer ${adminToken}` };
  const venue = await client.json(null, 'POST', '/api/v1/venues', { headers, body: venueBody(options) });
  if (venue.status !== 201) throw new Error(`venue creation answered ${venue.status}: ${JSON.stringify(venue.body)}`);
  const sections = (venue.body.sections as { key: string; kind: string }[]);
  const seated = sections.filter((s) => s.kind === 'seated').map((s) => s.key);
  const half = Math.ceil(seated.length / 2);
  const zones = [
    { key: 'front', name: 'Front', priceCents: 9_000, currency: 'EUR', sections: seated.slice(0, half) },
    { key: 'back', name: 'Back', priceCents: 6_000, currency: 'EUR', sections: seated.slice(half) },
    { key: 'floor', name: 'Floor', priceCents: 7_000, currency: 'EUR',
      sections: sections.filter((s) => s.kind === 'standing').map((s) => s.key) },
  ].filter((zone) => zone.sections.length > 0);
  const event = await client.json(null, 'POST', '/api/v1/events', {
    headers,
    body: {
      venueId: venue.body.venueId, title: `Simulated on-sale (seed ${options.seed})`,
      startsAt: new Date(startedAtEpochMs + 30 * 24 * 3600 * 1000).toISOString(),
      onSaleAt: new Date(startedAtEpochMs + options.preOnSaleSeconds * 1000).toISOString(),
      zones, holdSeconds: options.holdSeconds, maxTicketsPerCustomer: options.maxTicketsPerCustomer,
      queue: {
        enabled: options.queue, admitPerMinute: options.admitPerMinute,
        maxActiveShoppers: options.maxActiveShoppers, passSeconds: options.passSeconds,
      },
    },
  });
  if (event.status !== 201) throw new Error(`event creation answered ${event.status}: ${JSON.stringify(event.body)}`);
  return String(event.body.eventId);
}

async function describeEvent(client: SimClient, eventId: string): Promise<SimEvent> {
  const details = await client.json(null, 'GET', `/api/v1/events/${eventId}`);
  if (details.status !== 200) throw new Error(`event ${eventId} answered ${details.status}`);
  const map = await client.json(null, 'GET', `/api/v1/events/${eventId}/seatmap`);
  type MapSection = { kind: string; zone: string; rows: { seats: { id: string; number: number }[] }[] };
  const seatIds = new Map<string, string[]>();
  const kinds = new Map<string, 'seated' | 'standing'>();
  const rowsByZone = new Map<string, { rowIndex: number; ids: string[] }[]>();
  for (const section of map.body.sections as MapSection[]) {
    kinds.set(section.zone, section.kind === 'standing' ? 'standing' : 'seated');
    section.rows.forEach((row, rowIndex) => {
      const list = rowsByZone.get(section.zone) ?? [];
      const centre = (row.seats.length + 1) / 2;
      // Centre seats first within a row: the popular ones.
      const ids = [...row.seats].sort((a, b) => Math.abs(a.number - centre) - Math.abs(b.number - centre))
        .map((seat) => seat.id);
      list.push({ rowIndex, ids });
      rowsByZone.set(section.zone, list);
    });
  }
  for (const [zone, rows] of rowsByZone) {
    rows.sort((a, b) => a.rowIndex - b.rowIndex);
    seatIds.set(zone, rows.flatMap((row) => row.ids));
  }
  const zones = (details.body.zones as { key: string; available: number; capacity: number }[]);
  const queue = details.body.queue as { enabled: boolean };
  return {
    eventId,
    capacity: Number(details.body.capacity),
    queueEnabled: queue.enabled,
    zones: zones.map((z) => ({ key: z.key, kind: kinds.get(z.key) ?? 'standing', available: z.available })),
    seatIds,
    onSaleAtMs: Date.parse(String(details.body.onSaleAt)),
  };
}

function fairness(customers: Customer[]): Fairness {
  // Classified by what the server said at join, not by the planned arrival: a fan who
  // planned to arrive early but whose join landed after the on-sale is a later joiner.
  const numbered = customers.filter((c) => c.number !== null);
  const after = numbered.filter((c) => !c.preQueued);
  const before = numbered.filter((c) => c.preQueued);
  const tau = (list: Customer[]): number | null => list.length < 2
    ? null
    : kendallTau(list.map((c) => c.index), list.map((c) => c.number as number));
  return {
    joinVsNumberTau: tau(after), postOnSaleJoiners: after.length,
    preQueueTau: tau(before), preQueueJoiners: before.length,
  };
}

function etaAccuracy(customers: Customer[], onSaleAtMs: number): SimReport['eta'] {
  const told = customers
    .filter((c) => typeof c.predictedEtaSeconds === 'number' && c.admittedAtMs !== undefined &&
      c.predictedAtMs !== undefined)
    .map((c) => ({
      predictedSeconds: c.predictedEtaSeconds as number,
      // Served: when the line's broadcast reached the fan's number (fetching the pass
      // after that is the client's latency, not the line's).
      actualSeconds: ((c.servedAtMs ?? c.admittedAtMs as number) -
        (c.predictedAtMs as number)) / 1000,
      toldAtSeconds: ((c.predictedAtMs as number) - onSaleAtMs) / 1000,
    }));
  const points: EtaSample[] = told
    .map((p) => ({ predictedSeconds: p.predictedSeconds, actualSeconds: p.actualSeconds }))
    .sort((a, b) => a.actualSeconds - b.actualSeconds);
  const errors = points.map((p) => Math.abs(p.predictedSeconds - p.actualSeconds)).sort((a, b) => a - b);
  const median = errors.length === 0 ? null : (errors[Math.floor(errors.length / 2)] as number);
  // Fans shown no time at all (everything in carts, or too little left for the fans ahead).
  const noTime = customers.filter((c) => c.predictedEtaSeconds === null).length;
  const neverAdmitted = customers.filter((c) => typeof c.predictedEtaSeconds === 'number' &&
    c.admittedAtMs === undefined).length;
  const actual = points.map((p) => p.actualSeconds);
  // Keep the chart light: at most 500 evenly spaced points.
  const stride = Math.max(1, Math.ceil(points.length / 500));
  return { samples: points.length, medianErrorSeconds: median,
    medianRelativeError: medianRelative(points), shownNoTime: noTime,
    shownTimeNeverAdmitted: neverAdmitted,
    medianActualSeconds: actual.length === 0 ? null : (actual[Math.floor(actual.length / 2)] as number),
    withinOneTick: actual.filter((s) => s < 1).length,
    overTime: etaOverTime(told), points: points.filter((_, i) => i % stride === 0) };
}

/** Optional taps into a run (the fault matrix uses them). */
export interface SimHooks {
  /** Every request's outcome, as it happens. */
  onReply?: ReplyObserver;
  /** The event is created and described; the crowd starts next. */
  onEvent?: (eventId: string) => void;
}

/** Runs a whole simulation; resolves with the report (audit included when possible). */
export async function simulate(options: SimOptions, env: NodeJS.ProcessEnv = process.env,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  hooks: SimHooks = {}): Promise<SimReport> {
  const target = options.url === undefined ? await startLocalTarget(env) : await remoteTarget(options);
  const recorder = new Recorder();
  // Observers' streams get connections of their own (one each, and a few for reconnects).
  const client = new SimClient(target.url, recorder, options.connections, options.observers + 8,
    options.shopConnections ?? options.connections, options.shopUrl ?? target.url);
  client.observer = hooks.onReply;
  try {
    const shop = options.shopUrl === undefined ? '' : ` (shoppers: ${options.shopUrl})`;
    log(`simulate: target ${target.url}${shop}, ${options.customers} customers, ` +
      `seed ${options.seed}`);
    const arrivals = arrivalSchedule(options);
    const customers = await createCrowd(client, target.adminToken, options, arrivals);
    const startedAtEpochMs = Date.now();
    const eventId = options.eventId ??
      await setUpEvent(client, target.adminToken, options, startedAtEpochMs);
    const event = await describeEvent(client, eventId);
    log(`simulate: event ${eventId}, ${event.capacity} tickets, queue ${event.queueEnabled ? 'on' : 'off'}`);
    hooks.onEvent?.(eventId);
    const engine = new CrowdEngine(options, client, recorder, event, customers,
      target.adminToken);
    const onSaleAtRunMs = Math.max(0, event.onSaleAtMs - startedAtEpochMs);
    let lastHolds = 0;
    let lastTickMs = 0;
    const result = await engine.run((e) => {
      if (!options.progress) return;
      const s = e.snapshot();
      const holds = recorder.get('holds_ok');
      const holdsPerSecond = (holds - lastHolds) / Math.max(0.001, (e.now() - lastTickMs) / 1000);
      lastHolds = holds;
      lastTickMs = e.now();
      const width = 30;
      const filled = Math.round((s.sold / Math.max(1, event.capacity)) * width);
      const phase = e.now() < onSaleAtRunMs ? 'pre-queue' : s.waiting > 0 ? 'queue' : 'selling';
      process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` +
        `${(e.now() / 1000).toFixed(0)}s ${phase} sold ${s.sold}/${event.capacity} held ${s.held} ` +
        `waiting ${s.waiting} shopping ${s.shopping} done ${s.done}/${customers.length} ` +
        `holds/s ${holdsPerSecond.toFixed(0)} hold p99 ${recorder.p99('hold best available').toFixed(0)}ms  `);
    });
    if (options.progress) process.stderr.write('\n');
    let audit: AuditReport | null = null;
    let auditSkipped: string | undefined;
    if (target.db === undefined) auditSkipped = 'no database access (pass --audit-database-url)';
    else audit = await auditEvent(target.db, eventId);
    const counters = Object.fromEntries(recorder.counters);
    return {
      options, eventId,
      target: options.shopUrl === undefined ? target.url
        : `${target.url} (shoppers: ${options.shopUrl})`, capacity: event.capacity,
      startedAt: new Date(startedAtEpochMs).toISOString(), durationMs: result.durationMs,
      stoppedBy: result.stoppedBy, sold: result.finalSold, held: result.finalHeld,
      soldOutAtMs: result.soldOutAtMs, onSaleAtMs: onSaleAtRunMs,
      counters, steps: recorder.steps(), latencyOverTime: recorder.latencyOverTime(),
      timeline: recorder.timeline, fairness: fairness(customers),
      eta: etaAccuracy(customers, onSaleAtRunMs),
      endOfSale: endOfSale(result, onSaleAtRunMs, counters), refusals: refusals(counters),
      audit, ...(auditSkipped === undefined ? {} : { auditSkipped }),
      fans: fanRows(customers, onSaleAtRunMs),
      ...(target.db === undefined ? {} : { slots: await slotRows(target.db, eventId) }),
    };
  } finally {
    await client.close();
    await target.close();
  }
}

/**
 * One row per fan, seconds after on-sale (empty when it did not happen): what they were
 * told first and when their number came up, to see where an ETA error comes from.
 */
function fanRows(customers: Customer[], onSaleAtMs: number): string[] {
  const at = (ms: number | undefined): string =>
    ms === undefined ? '' : ((ms - onSaleAtMs) / 1000).toFixed(3);
  return customers.map((c) => [
    c.index, c.number ?? '', c.preQueued === true ? 1 : 0, at(c.joinedAtMs),
    at(c.predictedAtMs), c.predictedEtaSeconds ?? '', at(c.servedAtMs), at(c.admittedAtMs),
    c.outcome ?? '', at(c.resolvedAtMs),
  ].join(','));
}
const fanHeader = 'index,number,pre_queued,joined_s,told_s,predicted_eta_s,served_s,' +
  'admitted_s,outcome,resolved_s';

/** One row per shopper slot from the database: how long each stayed and why it ended. */
async function slotRows(db: Queryable, eventId: string): Promise<string[]> {
  const { rows } = await db.query<{
    number: string; admitted_s: number; claimed_s: number | null; ended_s: number;
    reason: string | null;
  }>(
    `SELECT number,
            extract(epoch FROM admitted_at)::float8 AS admitted_s,
            extract(epoch FROM claimed_at)::float8 AS claimed_s,
            extract(epoch FROM least(coalesce(released_at, expires_at), expires_at,
              CASE WHEN claimed_at IS NULL THEN claim_by END))::float8 AS ended_s,
            CASE WHEN released_at IS NOT NULL AND released_at <= expires_at
                 THEN release_reason
                 WHEN claimed_at IS NULL THEN 'unclaimed' ELSE 'expired' END AS reason
       FROM queue_admissions WHERE event_id = $1 ORDER BY number`,
    [eventId],
  );
  return rows.map((r) => [r.number, r.admitted_s.toFixed(3),
    r.claimed_s === null ? '' : r.claimed_s.toFixed(3), r.ended_s.toFixed(3),
    r.reason ?? ''].join(','));
}
const slotHeader = 'number,admitted_epoch_s,claimed_epoch_s,ended_epoch_s,reason';

/**
 * Writes report.txt, report.html and report.json, and fans.csv (and slots.csv when the
 * database was reachable) for a closer look; returns the text summary.
 */
export function writeReport(report: SimReport, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const { fans, slots, ...summary } = report;
  const text = renderText(report);
  writeFileSync(path.join(dir, 'report.txt'), text);
  writeFileSync(path.join(dir, 'report.html'), renderHtml(report));
  writeFileSync(path.join(dir, 'report.json'), `${JSON.stringify(summary, null, 2)}\n`);
  if (fans !== undefined) writeFileSync(path.join(dir, 'fans.csv'), `${[fanHeader, ...fans].join('\n')}\n`);
  if (slots !== undefined) writeFileSync(path.join(dir, 'slots.csv'), `${[slotHeader, ...slots].join('\n')}\n`);
  return text;
}
