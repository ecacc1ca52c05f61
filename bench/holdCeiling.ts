/**
 * What PostgreSQL itself allows for holds on this machine, with no Node in the path: pgbench
 * (installed with PostgreSQL) calls `hold_batch` directly with batches of N random seats from
 * a few clients, on a fresh database of its own (created and dropped here), beside the
 * trivial autocommit INSERT in the same run. Each case reports holds per second (holds
 * actually written, counted in the database), latency per call (pgbench's per-transaction
 * log) and the PostgreSQL CPU per hold: the CPU time of the case's own backends, read from
 * /proc/<pid>/schedstat every 50 ms while they run (background writers not included).
 *
 * The requests are built inside the statement (random seat, random customer, new hold id);
 * a case that only builds them measures that overhead. Seats are drawn with replacement
 * from 100,000 and held for 1 s, so a few per cent find their seat taken and are refused,
 * as they would be in a sale. Run on its own with
 * `npx tsx bench/holdCeiling.ts [--seconds=5] [--clients=4] [--sizes=1,8,32,64]
 * [--variants=030,033] [--rounds=1]`: with variants, each round replaces `hold_batch` with
 * each migration's text in turn (same database) and runs every size, interleaved.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEvent, loadEvent, type EventRecord } from '../src/catalog/events.js';
import { createVenue } from '../src/catalog/venues.js';
import { systemClock } from '../src/core/clock.js';
import type { Db } from '../src/storage/index.js';
import { testDatabaseUrl } from '../src/testing/services.js';
import { benchPostgres, fmt, percentile, type BenchRow } from './lib.js';

const dayMs = 24 * 3600 * 1000;
const seatCount = 100_000;
const fanCount = 50_000;

/** Options of a ceiling run; every field has a default. */
export interface CeilingOptions {
  seconds?: number;
  clients?: number;
  sizes?: readonly number[];
}

interface Setup { db: Db; url: string; event: EventRecord; info: string; dir: string }

/** The event facts hold_batch decides with (as holds/batch.ts sends them), held 1 s. */
function eventInfo(event: EventRecord): string {
  return JSON.stringify({
    hold_seconds: 1,
    max_per_customer: event.maxTicketsPerCustomer,
    on_sale_at: new Date(event.onSaleAtMs).toISOString(),
    starts_at: new Date(event.startsAtMs).toISOString(),
    cancelled: event.cancelled,
    currency: 'EUR',
    prices: Object.fromEntries(event.zones.map((zone) => [zone.key, zone.priceCents])),
  });
}

/** N random single-seat requests for N random customers, as batch.ts encodes them. */
const requestsSql = `(SELECT jsonb_agg(jsonb_build_object('i', gen_random_uuid(),
    'c', f.customer_id, 'q', 1, 'k', 'seats', 't', jsonb_build_array(r.no)))
   FROM (SELECT 1 + floor(random() * :fans)::int AS fan,
                1 + floor(random() * :seats)::int AS no
           FROM generate_series(1, :batch)) r
   JOIN bench_fans f ON f.n = r.fan)`;

const scripts = {
  batch: `SELECT count(*) FROM hold_batch(:event::uuid, :info::jsonb, ${requestsSql},
    '{}'::text[]);\n`,
  build: `SELECT jsonb_array_length(${requestsSql});\n`,
  insert: 'INSERT INTO bench_insert (v) VALUES (1);\n',
};

async function setUp(): Promise<Setup> {
  const db = await benchPostgres(2);
  const { rows: [named] } = await db.query<{ d: string }>('SELECT current_database() AS d');
  const url = new URL(testDatabaseUrl);
  url.pathname = `/${(named as { d: string }).d}`;
  const sections = Array.from({ length: seatCount / 1_250 }, (_, s) => ({
    key: `S${s + 1}`, name: `Section ${s + 1}`, kind: 'seated' as const,
    rows: Array.from({ length: 25 }, (_, r) => ({ label: String(r + 1), seats: 50 })),
  }));
  const venue = await createVenue(db, { name: 'Ceiling Arena', city: 'Benchtown', sections });
  const created = await createEvent(db, systemClock, {
    venueId: venue.venueId, title: 'Ceiling On-Sale', maxTicketsPerCustomer: 50,
    startsAt: new Date(Date.now() + 30 * dayMs).toISOString(),
    onSaleAt: new Date(Date.now() - 1000).toISOString(), holdSeconds: 3600,
    zones: [{ key: 'z1', name: 'Z1', priceCents: 9000, currency: 'EUR',
      sections: sections.map((section) => section.key) }],
  });
  const event = await loadEvent(db, created.eventId);
  await db.query(
    `INSERT INTO customers (customer_id, email, name, password_hash)
     SELECT gen_random_uuid(), 'ceiling-' || n || '@example.com', 'Ceiling Fan', 'none'
       FROM generate_series(1, $1::int) AS n`, [fanCount]);
  await db.query(`CREATE TABLE bench_fans AS
    SELECT row_number() OVER (ORDER BY customer_id)::int AS n, customer_id FROM customers`);
  await db.query('ALTER TABLE bench_fans ADD PRIMARY KEY (n)');
  await db.query('CREATE TABLE bench_insert (id bigserial PRIMARY KEY, v int NOT NULL)');
  await db.query('VACUUM ANALYZE');
  const dir = mkdtempSync(join(tmpdir(), 'stampede-ceiling-'));
  for (const [name, text] of Object.entries(scripts)) writeFileSync(join(dir, `${name}.sql`), text);
  return { db, url: url.toString(), event, info: eventInfo(event), dir };
}

/** CPU nanoseconds of a process so far (0 once it has exited). */
function cpuNs(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return 0;
  }
}

interface PgbenchResult { calls: number; seconds: number; latenciesMs: number[]; cpuMs: number }

/** Runs one pgbench case and samples its backends' CPU while it runs. */
async function pgbench(
  setup: Setup, script: keyof typeof scripts, clients: number, seconds: number,
  vars: Record<string, string | number>,
): Promise<PgbenchResult> {
  const logDir = mkdtempSync(join(setup.dir, 'log-'));
  const args = ['-n', '-M', 'prepared', '-c', String(clients), '-j', '1', '-T', String(seconds),
    '-l', `--log-prefix=${join(logDir, 'tx')}`, '-f', join(setup.dir, `${script}.sql`),
    ...Object.entries(vars).flatMap(([k, v]) => ['-D', `${k}=${v}`]), setup.url];
  const child = spawn('pgbench', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { out += chunk.toString(); });
  const seen = new Map<number, number>();
  const sample = async (): Promise<void> => {
    const { rows } = await setup.db.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'pgbench'`);
    for (const { pid } of rows) {
      const ns = cpuNs(pid);
      if (ns > 0) seen.set(pid, Math.max(seen.get(pid) ?? 0, ns));
    }
  };
  const start = new Map<number, number>();
  let started = false;
  const sampling = setInterval(() => {
    void sample().then(() => {
      // The first sample that sees every client: their CPU so far is connection set-up.
      if (!started && seen.size >= clients) {
        started = true;
        for (const [pid, ns] of seen) start.set(pid, ns);
      }
    }, () => undefined);
  }, 50);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearInterval(sampling);
  if (code !== 0) throw new Error(`pgbench exited ${String(code)}: ${out.slice(-2_000)}`);
  const calls = Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1]);
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(out)?.[1]);
  const latenciesMs: number[] = [];
  for (const file of readdirSync(logDir)) {
    for (const line of readFileSync(join(logDir, file), 'utf8').split('\n')) {
      const us = Number(line.split(' ')[2]);
      if (line !== '' && Number.isFinite(us)) latenciesMs.push(us / 1000);
    }
  }
  rmSync(logDir, { recursive: true, force: true });
  latenciesMs.sort((a, b) => a - b);
  let cpu = 0;
  for (const [pid, ns] of seen) cpu += ns - (start.get(pid) ?? 0);
  return { calls, seconds: calls / tps, latenciesMs, cpuMs: cpu / 1e6 };
}

async function count(db: Db, table: 'holds' | 'bench_insert'): Promise<number> {
  const { rows: [row] } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
  return Number((row as { n: string }).n);
}

function row(name: string, done: number, run: PgbenchResult, notes: string): BenchRow {
  return {
    name, opsPerSec: done / run.seconds, p50Ms: percentile(run.latenciesMs, 50),
    p99Ms: percentile(run.latenciesMs, 99), ops: done, errors: 0,
    notes: `${notes}; ${(run.cpuMs / Math.max(done, 1)).toFixed(3)} ms PostgreSQL CPU each ` +
      `(${fmt(run.cpuMs / 10 / run.seconds, 0)} % of one core)`,
  };
}

/** One hold_batch case: batches of `size` from `clients` clients. */
async function batchCase(
  setup: Setup, size: number, clients: number, seconds: number, label = '',
): Promise<BenchRow> {
  const before = await count(setup.db, 'holds');
  const run = await pgbench(setup, 'batch', clients, seconds, {
    event: setup.event.eventId, info: setup.info, fans: fanCount, seats: seatCount, batch: size,
  });
  const held = (await count(setup.db, 'holds')) - before;
  const asked = run.calls * size;
  // Expired holds pile up as they would without the sweeper; keep the tables settled.
  await setup.db.query('VACUUM ANALYZE tickets, holds, hold_items, outbox_events');
  return {
    ...row(`hold_batch without Node${label}: batches of ${size}, ${clients} clients`, held, run,
      `${fmt(run.calls / run.seconds)} calls/s; p50/p99 per call; ${asked - held} of ${asked} ` +
      'refused (seat drawn already held)'),
    errors: asked - held,
  };
}

async function buildCase(setup: Setup, size: number, clients: number, seconds: number):
  Promise<BenchRow> {
  const run = await pgbench(setup, 'build', clients, seconds,
    { fans: fanCount, seats: seatCount, batch: size });
  return row(`hold_batch's requests built alone (bench overhead): batches of ${size}, ` +
    `${clients} clients`, run.calls * size, run, 'the same request-building SQL, no hold_batch');
}

async function insertCase(setup: Setup, clients: number, seconds: number): Promise<BenchRow> {
  const before = await count(setup.db, 'bench_insert');
  const run = await pgbench(setup, 'insert', clients, seconds, {});
  const done = (await count(setup.db, 'bench_insert')) - before;
  return row(`trivial autocommit INSERT without Node, ${clients} clients`, done, run,
    'one row, one commit each: the commit ceiling');
}

/**
 * Replaces hold_batch with the text of migration `variant` (e.g. "030"), or runs the SQL
 * file at that path (a variant with a schema change, and one that undoes it).
 */
async function useVariant(db: Db, variant: string): Promise<void> {
  if (variant.includes('/')) {
    await db.query(readFileSync(variant, 'utf8'));
    return;
  }
  const dir = fileURLToPath(new URL('../src/storage/migrations/', import.meta.url));
  const file = readdirSync(dir).find((name) => name.startsWith(`${variant}_`));
  if (file === undefined) throw new Error(`no migration ${variant}`);
  // 075 changed the function's return type: a version is created, not replaced.
  await db.query('DROP FUNCTION IF EXISTS hold_batch(uuid, jsonb, jsonb, text[])');
  await db.exec(readFileSync(join(dir, file), 'utf8'));
}

/** The ceiling rows for the holds section: hold_batch of each size, then the INSERT. */
export async function holdCeilingCases(options: CeilingOptions = {}): Promise<BenchRow[]> {
  const seconds = options.seconds ?? 5;
  const clients = options.clients ?? 4;
  const sizes = options.sizes ?? [1, 8, 32, 64];
  const setup = await setUp();
  try {
    const rows: BenchRow[] = [];
    for (const size of sizes) rows.push(await batchCase(setup, size, clients, seconds));
    rows.push(await buildCase(setup, Math.max(...sizes), clients, seconds));
    rows.push(await insertCase(setup, clients, seconds));
    rows.push(await insertCase(setup, clients * 4, seconds));
    return rows;
  } finally {
    rmSync(setup.dir, { recursive: true, force: true });
    await setup.db.close();
  }
}

function option(argv: readonly string[], name: string): string | undefined {
  return argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
}

async function main(argv: readonly string[]): Promise<void> {
  const seconds = Number(option(argv, 'seconds') ?? 5);
  const clients = Number(option(argv, 'clients') ?? 4);
  const sizes = (option(argv, 'sizes') ?? '1,8,32,64').split(',').map(Number);
  const variants = option(argv, 'variants')?.split(',');
  const rounds = Number(option(argv, 'rounds') ?? 1);
  const print = (r: BenchRow): void => {
    process.stdout.write(`${r.name}: ${fmt(r.opsPerSec)}/s, p50 ${fmt(r.p50Ms, 2)} ms, p99 ${
      fmt(r.p99Ms, 2)} ms, ${r.ops} ops; ${r.notes ?? ''}\n`);
  };
  if (variants === undefined) {
    for (const r of await holdCeilingCases({ seconds, clients, sizes })) print(r);
    return;
  }
  const setup = await setUp();
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const variant of variants) {
        await useVariant(setup.db, variant);
        for (const size of sizes) {
          print(await batchCase(setup, size, clients, seconds, ` (${variant}, round ${round})`));
        }
      }
      print(await insertCase(setup, clients, seconds));
    }
  } finally {
    rmSync(setup.dir, { recursive: true, force: true });
    await setup.db.close();
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(() => process.exit(), (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
