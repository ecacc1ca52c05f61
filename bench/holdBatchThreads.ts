/**
 * Hold batches on embedded PGlite in its worker thread, without HTTP: the same
 * `runHoldBatch` the route's batcher calls, one batch in flight (as on PGlite), batches of
 * a fixed size of random single seats from distinct customers, and the CPU per request of
 * each thread (the database's thread and the main thread) over a fixed number of batches.
 * CPU for a fixed amount of work is the figure to read on a shared machine; the rate is
 * printed beside it. `npx tsx bench/holdBatchThreads.ts [--size=16] [--batches=300]`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createEvent, loadEvent } from '../src/catalog/events.js';
import { createVenue } from '../src/catalog/venues.js';
import { systemClock } from '../src/core/clock.js';
import { newId } from '../src/core/ids.js';
import { runHoldBatch } from '../src/holds/batch.js';
import { benchPglite } from './lib.js';

const option = (name: string, fallback: number): number => {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? fallback : Number(arg.slice(name.length + 3));
};
const size = option('size', 16);
const batches = option('batches', 300);
const warmBatches = 60;

/** CPU (ms) of every thread of this process, by task id. */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, (Number(fields[11]) + Number(fields[12])) * 10);
    } catch {
      // The thread ended.
    }
  }
  return out;
}

const db = await benchPglite(true);
const sections = Array.from({ length: 16 }, (_, s) => ({
  key: `S${s + 1}`, name: `Section ${s + 1}`, kind: 'seated' as const,
  rows: Array.from({ length: 25 }, (_, r) => ({ label: String(r + 1), seats: 50 })),
}));
const venue = await createVenue(db, { name: 'Thread Hall', city: 'Benchtown', sections });
const event = await loadEvent(db, (await createEvent(db, systemClock, {
  venueId: venue.venueId, title: 'Thread On-Sale', maxTicketsPerCustomer: 6,
  startsAt: new Date(Date.now() + 86_400_000).toISOString(),
  onSaleAt: new Date(Date.now() - 1000).toISOString(), holdSeconds: 3600,
  zones: [{ key: 'z1', name: 'Z1', priceCents: 9000, currency: 'EUR',
    sections: sections.map((section) => section.key) }],
})).eventId);
const { rows: ticketRows } = await db.query<{ ticket_no: number }>(
  'SELECT ticket_no FROM tickets WHERE event_id = $1', [event.eventId]);
const free = ticketRows.map((row) => row.ticket_no).sort(() => Math.random() - 0.5);
const needed = (warmBatches + batches) * size;
if (needed > free.length) throw new Error(`${needed} requests need more than ${free.length} seats`);
await db.query(
  `INSERT INTO customers (customer_id, email, name, password_hash)
   SELECT gen_random_uuid(), 'thread-' || n || '@example.com', 'Fan', 'none'
     FROM generate_series(1, $1::int) AS n`, [needed]);
const { rows: fanRows } = await db.query<{ id: string }>('SELECT customer_id AS id FROM customers');
const fans = fanRows.map((row) => row.id);
await db.query('VACUUM ANALYZE');

let nextFan = 0;
const batch = async (): Promise<void> => {
  const requests = free.splice(0, size).map((ticketNo) => ({
    holdId: newId(), customerId: fans[nextFan++] as string, quantity: 1,
    claim: { kind: 'seats' as const, ticketNos: [ticketNo] },
  }));
  const outcomes = await runHoldBatch(db, event, requests);
  if (outcomes.some((o) => o.outcome !== 'held')) throw new Error('a request was refused');
};
for (let i = 0; i < warmBatches; i++) await batch();

const load0 = loadavg()[0] ?? 0;
const cpu0 = threadCpu();
const t0 = performance.now();
for (let i = 0; i < batches; i++) await batch();
const wallMs = performance.now() - t0;
const cpu1 = threadCpu();
const load1 = loadavg()[0] ?? 0;
await db.close();

const requests = batches * size;
const used = [...cpu1].map(([tid, ms]) => ({ tid, ms: ms - (cpu0.get(tid) ?? 0) }))
  .sort((a, b) => b.ms - a.ms);
const main = used.find((t) => t.tid === String(process.pid))?.ms ?? 0;
const database = used.find((t) => t.tid !== String(process.pid))?.ms ?? 0;
const total = used.reduce((sum, t) => sum + t.ms, 0);
const us = (ms: number): string => ((ms * 1000) / requests).toFixed(0);
console.log(`batches of ${size}, ${batches} batches: ${(requests / (wallMs / 1000)).toFixed(0)} ` +
  `requests/s; CPU per request: database thread ${us(database)} µs, main ${us(main)} µs, ` +
  `process ${us(total)} µs; load ${load0.toFixed(2)} → ${load1.toFixed(2)}`);
