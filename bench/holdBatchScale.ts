/**
 * What one hold batch costs as live holds grow, without HTTP: one connection (as a pooled
 * node connection) decides batches of 32 single-seat requests from customers with nothing
 * held while `holds` carries 0 / 500 / 2,000 / 10,000 / 30,000 live holds of other customers (and
 * half as many confirmed orders with their purchased holds, as a sale goes on).
 * `npx tsx bench/holdBatchScale.ts --stats=stale|analyzed [--live=0,2000,10000,30000]
 * [--variant=035,052] [--plans]`.
 *
 * `--stats=stale`: the connection's first batches run on the empty table (a sale starting
 * on a fresh database), autovacuum is off for `holds` and `orders` and nothing analyzes
 * them, so the function keeps the generic plans it made then. `--stats=analyzed`: both
 * tables are analyzed before each point (the plans are made again from true statistics).
 * `--variant` replaces the function with those migrations' text first, in order (the code
 * before a change, measured in the same way). Printed per point: the batch's median time,
 * the rows of `holds` and `orders` read per request by sequential scan and by index
 * (pg_stat_user_tables, flushed by an idle second), and one batch's EXPLAIN (ANALYZE,
 * BUFFERS, WAL) totals, rolled back; `--plans` also prints the plans of the statements
 * inside the function that read `holds` or `orders` (auto_explain, needs a superuser).
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
import { benchPostgres, insertFillerHolds } from './lib.js';

const argv = process.argv.slice(2);
const option = (name: string): string | undefined =>
  argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const stats = option('stats') ?? 'stale';
const points = (option('live') ?? '0,500,2000,10000,30000').split(',').map(Number);
const variant = option('variant')?.split(',');
const showPlans = argv.includes('--plans');

const db = await benchPostgres(2);
const { rows: [named] } = await db.query<{ d: string }>('SELECT current_database() AS d');
const url = new URL(testDatabaseUrl);
url.pathname = `/${(named as { d: string }).d}`;
const sections = Array.from({ length: 16 }, (_, s) => ({
  key: `S${s + 1}`, name: `Section ${s + 1}`, kind: 'seated' as const,
  rows: Array.from({ length: 25 }, (_, r) => ({ label: String(r + 1), seats: 50 })),
}));
const venue = await createVenue(db, { name: 'Scale Arena', city: 'Benchtown', sections });
const created = await createEvent(db, systemClock, {
  venueId: venue.venueId, title: 'Scale On-Sale', maxTicketsPerCustomer: 6,
  startsAt: new Date(Date.now() + 86_400_000).toISOString(),
  onSaleAt: new Date(Date.now() - 1000).toISOString(), holdSeconds: 3600,
  zones: [{ key: 'z1', name: 'Z1', priceCents: 9000, currency: 'EUR',
    sections: sections.map((section) => section.key) }],
});
const event = await loadEvent(db, created.eventId);
const maxLive = Math.max(...points);
// Customers: the first `maxLive * 1.5` carry the filler's holds and orders, the rest shop.
await db.query(
  `INSERT INTO customers (customer_id, email, name, password_hash)
   SELECT gen_random_uuid(), 'scale-' || n || '@example.com', 'Scale Fan', 'none'
     FROM generate_series(1, $1::int) AS n`, [Math.ceil(maxLive * 1.5) + 10_000]);
const { rows: fanRows } = await db.query<{ id: string }>(
  'SELECT customer_id AS id FROM customers ORDER BY email');
const filler = fanRows.slice(0, Math.ceil(maxLive * 1.5)).map((row) => row.id);
const shoppers = fanRows.slice(Math.ceil(maxLive * 1.5)).map((row) => row.id);
if (variant !== undefined) {
  const dir = fileURLToPath(new URL('../src/storage/migrations/', import.meta.url));
  // 075 changed the function's return type: a version is created, not replaced.
  await db.query('DROP FUNCTION IF EXISTS hold_batch(uuid, jsonb, jsonb, text[])');
  for (const name of variant) {
    const file = readdirSync(dir).find((entry) => entry.startsWith(`${name}_`));
    if (file === undefined) throw new Error(`no migration ${name}`);
    await db.exec(readFileSync(join(dir, file), 'utf8'));
  }
}
await db.query('VACUUM ANALYZE');
if (stats === 'stale') {
  await db.query('ALTER TABLE holds SET (autovacuum_enabled = false)');
  await db.query('ALTER TABLE orders SET (autovacuum_enabled = false)');
}

const info = JSON.stringify({
  hold_seconds: 3600, max_per_customer: 6,
  on_sale_at: new Date(event.onSaleAtMs).toISOString(),
  starts_at: new Date(event.startsAtMs).toISOString(), cancelled: false, currency: 'EUR',
  prices: { z1: 9000 },
});
const seats = Array.from({ length: 20_000 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
let nextSeat = 0;
let nextShopper = 0;
const batch = (size: number): string => JSON.stringify(Array.from({ length: size }, () => ({
  i: crypto.randomUUID(), c: shoppers[nextShopper++ % shoppers.length], q: 1, k: 'seats',
  t: [seats[nextSeat++ % seats.length]],
})));

const client = new pg.Client({ connectionString: url.toString() });
await client.connect();
// Grows the tables and reads the counters: its own reads are flushed before each reading.
const admin = new pg.Client({ connectionString: url.toString() });
await admin.connect();
const sql = 'SELECT n, outcome FROM hold_batch($1::uuid, $2::jsonb, $3::jsonb, $4::text[])';
const call = async (requests: string): Promise<number> => {
  const t0 = performance.now();
  const { rows } = await client.query<{ outcome: string }>(
    sql, [event.eventId, info, requests, []]);
  const ms = performance.now() - t0;
  if (rows.some((row) => row.outcome !== 'held')) throw new Error('a request was refused');
  return ms;
};
interface Reads { holdsSeq: number; holdsIdx: number; ordersSeq: number; ordersIdx: number }
const reads = async (): Promise<Reads> => {
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  // Both connections report their counters now (not at some later statement).
  for (const c of [client, admin]) {
    await c.query('SELECT pg_stat_force_next_flush()');
    await c.query('SELECT 1');
  }
  const { rows } = await admin.query<{ relname: string; seq: string; idx: string }>(
    `SELECT relname, seq_tup_read AS seq, coalesce(idx_tup_fetch, 0) AS idx
       FROM pg_stat_user_tables WHERE relname IN ('holds', 'orders')`);
  const of = (name: string): { seq: number; idx: number } => {
    const row = rows.find((r) => r.relname === name);
    return { seq: Number(row?.seq ?? 0), idx: Number(row?.idx ?? 0) };
  };
  return { holdsSeq: of('holds').seq, holdsIdx: of('holds').idx,
    ordersSeq: of('orders').seq, ordersIdx: of('orders').idx };
};
let fillerUsed = 0;
/** Grows live holds to `live` (and confirmed orders to half that) for filler customers. */
const grow = async (live: number): Promise<void> => {
  const { rows: [now] } = await admin.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM holds WHERE state = 'held' AND customer_id = ANY($1)`,
    [filler]);
  const more = live - (now?.n ?? 0);
  if (more <= 0) return;
  const holders = filler.slice(fillerUsed, fillerUsed + more);
  const buyers = filler.slice(fillerUsed + more, fillerUsed + more + Math.floor(more / 2));
  fillerUsed += holders.length + buyers.length;
  await insertFillerHolds(admin, event.eventId, holders, buyers);
};
const explainTotals = async (requests: string): Promise<string> => {
  await client.query('BEGIN');
  const { rows } = await client.query<{ 'QUERY PLAN': string }>(
    `EXPLAIN (ANALYZE, BUFFERS, WAL) ${sql}`, [event.eventId, info, requests, []]);
  await client.query('ROLLBACK');
  const lines = rows.map((r) => r['QUERY PLAN']);
  const buffers = lines.find((l) => l.trim().startsWith('Buffers:'))?.trim() ?? '';
  const wal = lines.find((l) => l.trim().startsWith('WAL:'))?.trim() ?? '';
  const time = lines.find((l) => l.startsWith('Execution Time'))?.trim() ?? '';
  return `${time}; ${buffers}; ${wal}`;
};
const nestedPlans = async (requests: string): Promise<void> => {
  const notices: string[] = [];
  const listener = (notice: { message?: string }): void => { notices.push(notice.message ?? ''); };
  client.on('notice', listener);
  await client.query("LOAD 'auto_explain'");
  await client.query(`SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on;
    SET auto_explain.log_buffers = on; SET auto_explain.log_nested_statements = on;
    SET auto_explain.log_level = notice; SET client_min_messages = notice`);
  await client.query('BEGIN');
  await client.query(sql, [event.eventId, info, requests, []]);
  await client.query('ROLLBACK');
  await client.query('SET auto_explain.log_min_duration = -1');
  client.off('notice', listener);
  const seen = new Set<string>();
  for (const text of notices) {
    const planLine = /\n\s*(->|[A-Z][a-z]+ .*\((cost|actual)[ =])/.exec(text);
    const query = text.slice(0, planLine?.index ?? text.length).split('Query Text: ')[1] ?? '';
    if (!/FROM holds h|FROM ONLY/.test(query)) continue;
    const key = query.replace(/\s+/g, ' ').slice(0, 100);
    if (seen.has(key)) continue;
    seen.add(key);
    console.log(`  ${key}`);
    const plan = text.split('\n').filter((line) => !line.startsWith('Query Text'))
      .filter((line) => /^\s*(->|[A-Z])|Index Cond|Filter|Buffers|Rows Removed/.test(line));
    console.log(plan.map((line) => `    ${line}`).join('\n'));
  }
};

// The connection's first batches, on an empty holds table: its generic plans are made here.
for (let i = 0; i < 8; i++) await call(batch(4));
console.log(`stats: ${stats}; variant: ${variant?.join('+') ?? 'this branch'}`);
for (const live of points) {
  await grow(live);
  if (stats === 'analyzed') await admin.query('ANALYZE holds; ANALYZE orders');
  await call(batch(32));
  const before = await reads();
  const times: number[] = [];
  for (let b = 0; b < 5; b++) times.push(await call(batch(32)));
  const after = await reads();
  times.sort((a, b) => a - b);
  const per = (n: number): string => (n / (5 * 32)).toFixed(1);
  const { rows: [c] } = await admin.query<{ n: number; rows: number }>(
    "SELECT count(*) FILTER (WHERE state = 'held')::int AS n, count(*)::int AS rows FROM holds");
  console.log(`live ${c?.n} (holds rows ${c?.rows}), load ${loadavg().map((x) => x.toFixed(2))
    .join(' ')}: batch of 32 median ${times[2]?.toFixed(1)} ms (min ${times[0]?.toFixed(1)}); ` +
    `per request read holds ${per(after.holdsSeq - before.holdsSeq)} seq / ${
      per(after.holdsIdx - before.holdsIdx)} idx, orders ${
      per(after.ordersSeq - before.ordersSeq)} seq / ${
      per(after.ordersIdx - before.ordersIdx)} idx`);
  console.log(`  EXPLAIN (ANALYZE, BUFFERS, WAL) of a batch of 32: ${
    await explainTotals(batch(32))}`);
  if (showPlans) await nestedPlans(batch(32));
}
await client.end();
await admin.end();
await db.close();
