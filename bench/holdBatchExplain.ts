/**
 * Which statements inside `hold_batch` cost what: auto_explain, loaded for one session
 * (needs a superuser), logs every nested statement of a call with ANALYZE, BUFFERS and WAL
 * to the client. Runs on a fresh database (20,000 seats, 5,000 customers) and prints, per
 * batch size, each statement's time and buffers, summed over a few calls after a warm-up.
 * `npx tsx bench/holdBatchExplain.ts [--sizes=1,8,64] [--calls=5] [--variant=030]
 * [--verbose]`; `--variant` replaces hold_batch with that migration's text first.
 *
 * `--compare=030,033 [--rounds=5]` instead times the variants without auto_explain, in
 * turn in one session (each round replaces the function with each variant's text, a
 * migration number or an SQL file): per call the wall time seen from Node and the CPU time
 * of the session's backend (/proc/<pid>/schedstat), whose minimum and median resist a
 * loaded machine better than throughput does.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createEvent, loadEvent } from '../src/catalog/events.js';
import { createVenue } from '../src/catalog/venues.js';
import { systemClock } from '../src/core/clock.js';
import { testDatabaseUrl } from '../src/testing/services.js';
import { benchPostgres } from './lib.js';

const argv = process.argv.slice(2);
const option = (name: string): string | undefined =>
  argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const sizes = (option('sizes') ?? '1,8,64').split(',').map(Number);
const calls = Number(option('calls') ?? 5);
const variant = option('variant');
const compare = option('compare')?.split(',');
const rounds = Number(option('rounds') ?? 5);
const verbose = argv.includes('--verbose');

const db = await benchPostgres(2);
const { rows: [named] } = await db.query<{ d: string }>('SELECT current_database() AS d');
const url = new URL(testDatabaseUrl);
url.pathname = `/${(named as { d: string }).d}`;
const sections = Array.from({ length: 16 }, (_, s) => ({
  key: `S${s + 1}`, name: `Section ${s + 1}`, kind: 'seated' as const,
  rows: Array.from({ length: 25 }, (_, r) => ({ label: String(r + 1), seats: 50 })),
}));
const venue = await createVenue(db, { name: 'Explain Arena', city: 'Benchtown', sections });
const created = await createEvent(db, systemClock, {
  venueId: venue.venueId, title: 'Explain On-Sale', maxTicketsPerCustomer: 50,
  startsAt: new Date(Date.now() + 86_400_000).toISOString(),
  onSaleAt: new Date(Date.now() - 1000).toISOString(), holdSeconds: 3600,
  zones: [{ key: 'z1', name: 'Z1', priceCents: 9000, currency: 'EUR',
    sections: sections.map((section) => section.key) }],
});
const event = await loadEvent(db, created.eventId);
await db.query(
  `INSERT INTO customers (customer_id, email, name, password_hash)
   SELECT gen_random_uuid(), 'explain-' || n || '@example.com', 'Explain Fan', 'none'
     FROM generate_series(1, 5000) AS n`);
const { rows: fanRows } = await db.query<{ id: string }>('SELECT customer_id AS id FROM customers');
const fans = fanRows.map((row) => row.id);
async function useVariant(name: string): Promise<void> {
  if (name.includes('/')) {
    await db.query(readFileSync(name, 'utf8'));
    return;
  }
  const dir = fileURLToPath(new URL('../src/storage/migrations/', import.meta.url));
  const file = readdirSync(dir).find((entry) => entry.startsWith(`${name}_`));
  if (file === undefined) throw new Error(`no migration ${name}`);
  // 075 changed the function's return type: a version is created, not replaced.
  await db.query('DROP FUNCTION IF EXISTS hold_batch(uuid, jsonb, jsonb, text[])');
  await db.exec(readFileSync(join(dir, file), 'utf8'));
}
if (variant !== undefined) await useVariant(variant);
await db.query('VACUUM ANALYZE');

const info = JSON.stringify({
  // Compared variants reuse seats: held 1 s, a seat is free again long before that.
  hold_seconds: compare === undefined ? 3600 : 1, max_per_customer: 50,
  on_sale_at: new Date(event.onSaleAtMs).toISOString(),
  starts_at: new Date(event.startsAtMs).toISOString(), cancelled: false, currency: 'EUR',
  prices: { z1: 9000 },
});
const seats = Array.from({ length: 20_000 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
let nextSeat = 0;
let nextFan = 0;
const batch = (size: number): string => JSON.stringify(Array.from({ length: size }, () => ({
  i: crypto.randomUUID(), c: fans[nextFan++ % fans.length], q: 1, k: 'seats',
  t: [seats[nextSeat++ % seats.length]],
})));

const client = new pg.Client({ connectionString: url.toString() });
await client.connect();
const sql = 'SELECT n, outcome FROM hold_batch($1::uuid, $2::jsonb, $3::jsonb, $4::text[])';
if (compare !== undefined) {
  const { rows: [backend] } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const cpuNs = (): number => Number(
    readFileSync(`/proc/${(backend as { pid: number }).pid}/schedstat`, 'utf8').split(' ')[0]);
  const samples = new Map<string, { wall: number[]; cpu: number[] }>();
  for (let round = 1; round <= rounds; round++) {
    for (const name of compare) {
      await useVariant(name);
      for (const size of sizes) {
        for (let i = 0; i < 2; i++) await client.query(sql, [event.eventId, info, batch(size), []]);
        const key = `${name} n=${size}`;
        const sample = samples.get(key) ?? { wall: [], cpu: [] };
        samples.set(key, sample);
        for (let i = 0; i < calls; i++) {
          const requests = batch(size);
          const cpu0 = cpuNs();
          const t0 = performance.now();
          await client.query(sql, [event.eventId, info, requests, []]);
          sample.wall.push((performance.now() - t0) / size);
          sample.cpu.push((cpuNs() - cpu0) / 1e6 / size);
        }
      }
    }
    process.stdout.write(`round ${round} done (load ${loadavg()[0]?.toFixed(1)})\n`);
  }
  const at = (xs: number[], p: number): string =>
    (xs.sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)] as number).toFixed(3);
  process.stdout.write('per hold, ms: backend CPU min / median, wall min / median\n');
  for (const [key, sample] of samples) {
    process.stdout.write(`${key.padEnd(28)} CPU ${at(sample.cpu, 0)} / ${at(sample.cpu, 0.5)}` +
      `   wall ${at(sample.wall, 0)} / ${at(sample.wall, 0.5)}\n`);
  }
  await client.end();
  await db.close();
  process.exit(0);
}
interface Cost { n: number; ms: number; hit: number; dirtied: number; walBytes: number }
let costs = new Map<string, Cost>();
client.on('notice', (notice) => {
  const text = notice.message ?? '';
  if (verbose) process.stdout.write(`${text}\n\n`);
  // The statement's text runs from "Query Text:" to the first plan line.
  const lines = text.split('\n');
  const from = lines.findIndex((line) => line.startsWith('Query Text: '));
  const to = lines.findIndex((line, k) => k > from && /\((cost|actual)[ =]/.test(line));
  const query = from < 0 ? text.slice(0, 80)
    : lines.slice(from, to < 0 ? from + 1 : to).join(' ').slice('Query Text: '.length);
  const key = query.replace(/\s+/g, ' ').trim().slice(0, 110);
  const ms = Number(/duration: ([\d.]+) ms/.exec(text)?.[1] ?? 0);
  const hit = Number(/Buffers: shared hit=(\d+)/.exec(text)?.[1] ?? 0);
  const dirtied = Number(/dirtied=(\d+)/.exec(text)?.[1] ?? 0);
  const walBytes = Number(/WAL: [^\n]*bytes=(\d+)/.exec(text)?.[1] ?? 0);
  const cost = costs.get(key) ?? { n: 0, ms: 0, hit: 0, dirtied: 0, walBytes: 0 };
  cost.n++; cost.ms += ms; cost.hit += hit; cost.dirtied += dirtied; cost.walBytes += walBytes;
  costs.set(key, cost);
});
await client.query("LOAD 'auto_explain'");
await client.query(`SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on;
  SET auto_explain.log_buffers = on; SET auto_explain.log_wal = on;
  SET auto_explain.log_nested_statements = on; SET auto_explain.log_level = notice;
  SET auto_explain.log_timing = on; SET client_min_messages = notice`);
for (const size of sizes) {
  for (let i = 0; i < 3; i++) await client.query(sql, [event.eventId, info, batch(size), []]);
  costs = new Map();
  for (let i = 0; i < calls; i++) {
    const { rows } = await client.query<{ outcome: string }>(
      sql, [event.eventId, info, batch(size), []]);
    if (rows.some((row) => row.outcome !== 'held')) throw new Error('a request was refused');
  }
  process.stdout.write(`\n== batches of ${size}, mean over ${calls} calls ` +
    '(ms, shared hits, dirtied, WAL bytes per call) ==\n');
  for (const [key, cost] of [...costs].sort((a, b) => b[1].ms - a[1].ms)) {
    process.stdout.write(`${(cost.ms / calls).toFixed(3).padStart(8)} ${
      String(Math.round(cost.hit / calls)).padStart(6)} ${
      String(Math.round(cost.dirtied / calls)).padStart(4)} ${
      String(Math.round(cost.walBytes / calls)).padStart(7)}  ${
      cost.n / calls !== 1 ? `×${cost.n / calls} ` : ''}${key}\n`);
  }
}
await client.end();
await db.close();
