/**
 * One connection's hold batches as the holds table grows, without HTTP or Node's load:
 * `npx tsx bench/holdBatchGrown.ts [liveHolds]`. The connection's first batches run while
 * `holds` is nearly empty (as at the start of a sale on a fresh database with autovacuum
 * off, or before its next ANALYZE), then `liveHolds` single-seat holds are made in batches
 * of 64, then batches of 32 requests of each shape are timed on that same connection:
 * single seats, 4 adjacent seats, 2 seats. Printed per shape: the batch's time and the rows
 * PostgreSQL read from `holds` per request by sequential scan and by index
 * (pg_stat_user_tables, flushed by an idle second), so a plan that reads the whole table per
 * ticket shows itself.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { loadEvent } from '../src/catalog/events.js';
import { createVenue } from '../src/catalog/venues.js';
import { runHoldBatch, type BatchRequest } from '../src/holds/batch.js';
import { buildTestContext } from '../src/testing/context.js';
import { buildCustomers } from '../src/testing/factories.js';
import { arena, buildArenaEvent } from './holds.js';
import { benchPostgres } from './lib.js';

const liveHolds = Number(process.argv[2] ?? 12_000);
const db = await benchPostgres(1);
const ctx = buildTestContext(db);
const venue = await createVenue(db, arena());
const event = await loadEvent(db, (await buildArenaEvent(db, venue.venueId)).eventId);
const customers = (await buildCustomers(ctx, 30_000)).map((c) => c.customerId);
await db.query('VACUUM ANALYZE');
const { rows: tickets } = await db.query<{ seat_id: string; ticket_no: number }>(
  'SELECT seat_id, ticket_no FROM tickets WHERE event_id = $1 AND seat_id IS NOT NULL',
  [event.eventId]);
const ticketOf = new Map(tickets.map((t) => [t.seat_id, t.ticket_no]));
let nextCustomer = 0;
const request = (seats: string[]): BatchRequest => ({
  holdId: randomUUID(), customerId: customers[nextCustomer++] as string, quantity: seats.length,
  claim: { kind: 'seats', ticketNos: seats.map((s) => ticketOf.get(s) as number) },
});
// Seat ids by zone, in order: z1 for the filler, z2 for the timed shapes.
const seatsOf = (first: number): string[] => {
  const ids: string[] = [];
  for (let s = first; s < first + 10; s++) {
    for (let r = 1; r <= 25; r++) for (let n = 1; n <= 48; n++) ids.push(`S${s}-${r}-${n}`);
  }
  return ids;
};
const filler = seatsOf(1);
const timedSeats = seatsOf(11);
const run = async (requests: BatchRequest[]): Promise<number> => {
  const t0 = performance.now();
  const outcomes = await runHoldBatch(db, event, requests);
  const ms = performance.now() - t0;
  const refused = outcomes.filter((o) => o.outcome !== 'held');
  if (refused.length > 0) throw new Error(`refused: ${JSON.stringify(refused[0])}`);
  return ms;
};
const holdReads = async (): Promise<{ seq: number; idx: number }> => {
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  await db.query('SELECT 1'); // the connection reports its counters at its next statement
  await new Promise((resolve) => setTimeout(resolve, 200));
  const { rows: [r] } = await db.query<{ seq: string; idx: string }>(
    `SELECT seq_tup_read AS seq, coalesce(idx_tup_fetch, 0) AS idx
       FROM pg_stat_user_tables WHERE relname = 'holds'`);
  return { seq: Number(r?.seq), idx: Number(r?.idx) };
};

// The connection's first batches, on a nearly empty holds table.
for (let i = 0; i < 8; i++) await run([request([filler.pop() as string])]);
// Grow the table.
while (filler.length > 0 && nextCustomer < liveHolds) {
  await run(filler.splice(-64).map((seat) => request([seat])));
}
const { rows: [count] } = await db.query<{ n: number }>(
  "SELECT count(*)::int AS n FROM holds WHERE state = 'held'");
console.log(`live holds: ${count?.n}; load ${(await import('node:fs')).readFileSync(
  '/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
// One batch of 32 requests of 4 adjacent seats, explained on the same connection and rolled
// back: the function's total, its buffers and its WAL.
{
  let captured: unknown[] | undefined;
  const capture = { ...db, query: async (_sql: string, params?: unknown[]) => {
    captured = params;
    throw new Error('captured');
  } } as unknown as typeof db;
  const batch = Array.from({ length: 32 }, () => request(timedSeats.splice(-4)));
  await runHoldBatch(capture, event, batch).catch(() => undefined);
  const plan = await db.tx(async (tx) => {
    const { rows } = await tx.query<{ 'QUERY PLAN': string }>(
      'EXPLAIN (ANALYZE, BUFFERS, WAL) SELECT n, outcome, detail FROM hold_batch($1::uuid, ' +
      '$2::jsonb, $3::jsonb, $4::text[])', captured);
    throw Object.assign(new Error('rolled back'), { plan: rows.map((r) => r['QUERY PLAN']) });
  }).catch((error: { plan?: string[] }) => error.plan);
  console.log('EXPLAIN (ANALYZE, BUFFERS, WAL), 32 requests of 4 adjacent seats, rolled back:');
  console.log((plan ?? ['(none)']).map((line) => `  ${line}`).join('\n'));
}
const shapes: [string, number][] = [['single seats', 1], ['4 adjacent seats', 4], ['2 seats', 2]];
for (let round = 0; round < 2; round++) {
  for (const [name, size] of shapes) {
    const before = await holdReads();
    const times: number[] = [];
    let requests = 0;
    for (let b = 0; b < 5; b++) {
      const batch = Array.from({ length: 32 }, () => request(timedSeats.splice(0, size)));
      requests += batch.length;
      times.push(await run(batch));
    }
    const after = await holdReads();
    times.sort((a, b) => a - b);
    console.log(`${name}: batch of 32, median ${times[2]?.toFixed(1)} ms (min ${
      times[0]?.toFixed(1)}); holds rows read per request: ${
      ((after.seq - before.seq) / requests).toFixed(0)} by seq scan, ${
      ((after.idx - before.idx) / requests).toFixed(0)} by index`);
  }
}
await db.close();
