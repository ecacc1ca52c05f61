/**
 * What the dashboard's kept order figures cost a confirmation (migration 076): WAL bytes per
 * statement confirming 3 orders (a settle batch confirms ~2.7 a call at seed scale) with the
 * order_counts trigger on and off, then with orders_event_settled_idx and without, each
 * interleaved A B three times on 150 statements. WAL is independent of the load; the client
 * time includes the commit.
 *
 * `npx tsx bench/orderCountsCost.ts` (PostgreSQL; 6,000 orders, pending, then confirmed)
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

import { benchPostgres, insertFillerHolds } from './lib.js';
import { buildTestContext } from '../src/testing/context.js';
import { buildEvent, insertCustomerRows } from '../src/testing/factories.js';

const pool = await benchPostgres(1);
const ctx = buildTestContext(pool);
const event = await buildEvent(ctx);
const buyers = await insertCustomerRows(pool, 6000);
await insertFillerHolds(pool, event.eventId, [], buyers);
await pool.query(`ALTER TABLE orders DISABLE TRIGGER order_counts_update`);
await pool.query(`UPDATE orders SET status = 'pending_payment', confirmed_at = NULL
  WHERE event_id = $1`, [event.eventId]);
await pool.query(`ALTER TABLE orders ENABLE TRIGGER order_counts_update`);
const { rows } = await pool.query<{ order_id: string }>(
  'SELECT order_id FROM orders WHERE event_id = $1 ORDER BY order_id', [event.eventId]);
const ids = rows.map((r) => r.order_id);
let next = 0;
async function confirm(n: number): Promise<void> {
  const batch = ids.slice(next, next + n); next += n;
  await pool.query(`UPDATE orders SET status = 'confirmed', confirmed_at = now()
    WHERE order_id = ANY($1::uuid[])`, [batch]);
}
async function wal(): Promise<number> {
  const { rows: [r] } = await pool.query<{ b: string }>(
    "SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn AS b");
  return Number(r?.b);
}
async function round(name: string): Promise<void> {
  const w0 = await wal();
  const s0 = performance.now();
  for (let i = 0; i < 150; i += 1) await confirm(3);
  const ms = performance.now() - s0;
  const w1 = await wal();
  console.log(`${name}: WAL ${((w1 - w0) / 150).toFixed(0)} B/statement of 3 confirmations, ` +
    `${(ms / 150).toFixed(2)} ms/statement at the client; load ${loadavg()[0]?.toFixed(1)}`);
}
for (let pair = 0; pair < 3; pair += 1) {
  await round('A trigger on');
  await pool.query('ALTER TABLE orders DISABLE TRIGGER order_counts_update');
  await round('B trigger off');
  await pool.query('ALTER TABLE orders ENABLE TRIGGER order_counts_update');
}
for (let pair = 0; pair < 3; pair += 1) {
  await round('A settled index');
  await pool.query('DROP INDEX orders_event_settled_idx');
  await round('B no settled index');
  await pool.query(`CREATE INDEX orders_event_settled_idx ON orders (event_id, confirmed_at)
    WHERE confirmed_at IS NOT NULL`);
}
await pool.close();
process.exit(0);
