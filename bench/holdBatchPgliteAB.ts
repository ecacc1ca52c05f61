/**
 * hold_batch on embedded PGlite, two versions interleaved in one process: batches of 32
 * single seats with 10,000 live holds and 5,000 confirmed orders of other customers on the
 * event (never analyzed after they were made). `npx tsx bench/holdBatchPgliteAB.ts
 * [--old=035,052] [--new=055] [--rounds=4]`: each round replaces the function with each
 * version's migrations (in order) and times 10 batches; printed per version, the median
 * and minimum batch time over all rounds, and the median process CPU per batch (PGlite runs
 * in this thread, so on a shared machine CPU is the steadier figure).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEvent, loadEvent } from '../src/catalog/events.js';
import { createVenue } from '../src/catalog/venues.js';
import { systemClock } from '../src/core/clock.js';
import { newId } from '../src/core/ids.js';
import { runHoldBatch } from '../src/holds/batch.js';
import { benchPglite } from './lib.js';

const argv = process.argv.slice(2);
const option = (name: string): string | undefined =>
  argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const versions = { old: (option('old') ?? '035,052').split(','),
  new: (option('new') ?? '055').split(',') };
const rounds = Number(option('rounds') ?? 4);

const db = await benchPglite();
const sections = Array.from({ length: 16 }, (_, s) => ({
  key: `S${s + 1}`, name: `Section ${s + 1}`, kind: 'seated' as const,
  rows: Array.from({ length: 25 }, (_, r) => ({ label: String(r + 1), seats: 50 })),
}));
const venue = await createVenue(db, { name: 'Embedded Arena', city: 'Benchtown', sections });
const event = await loadEvent(db, (await createEvent(db, systemClock, {
  venueId: venue.venueId, title: 'Embedded On-Sale', maxTicketsPerCustomer: 6,
  startsAt: new Date(Date.now() + 86_400_000).toISOString(),
  onSaleAt: new Date(Date.now() - 1000).toISOString(), holdSeconds: 3600,
  zones: [{ key: 'z1', name: 'Z1', priceCents: 9000, currency: 'EUR',
    sections: sections.map((section) => section.key) }],
})).eventId);
// 15,000 customers hold or own tickets already; every request of a batch is a fan of its
// own (4 warm-up batches, then 11 batches per version and round).
const batchesRun = 4 + rounds * 2 * 11;
if (batchesRun * 32 > 20_000) throw new Error(`--rounds=${rounds}: more requests than seats`);
await db.query(
  `INSERT INTO customers (customer_id, email, name, password_hash)
   SELECT gen_random_uuid(), 'ab-' || n || '@example.com', 'Fan', 'none'
     FROM generate_series(1, $1::int) AS n`, [15_000 + batchesRun * 32]);
const { rows: fanRows } = await db.query<{ id: string }>(
  'SELECT customer_id AS id FROM customers ORDER BY email');
const fans = fanRows.map((row) => row.id);
// The first batches run on empty tables (their plans are made there), then the tables grow.
const { rows: ticketRows } = await db.query<{ ticket_no: number }>(
  'SELECT ticket_no FROM tickets WHERE event_id = $1 ORDER BY ticket_no', [event.eventId]);
const free = ticketRows.map((row) => row.ticket_no);
let nextFan = 15_000;
const cpu: Record<string, number[]> = { old: [], new: [] };
let lastCpuMs = 0;
const batch = async (): Promise<number> => {
  const requests = free.splice(0, 32).map((ticketNo) => ({
    holdId: newId(), customerId: fans[nextFan++] as string, quantity: 1,
    claim: { kind: 'seats' as const, ticketNos: [ticketNo] },
  }));
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const outcomes = await runHoldBatch(db, event, requests);
  const ms = performance.now() - t0;
  const c1 = process.cpuUsage(c0);
  lastCpuMs = (c1.user + c1.system) / 1000;
  if (outcomes.some((o) => o.outcome !== 'held')) throw new Error('a request was refused');
  return ms;
};
for (let i = 0; i < 4; i++) await batch();
await db.query(
  `INSERT INTO holds (hold_id, event_id, customer_id, state, quantity, adjacent, currency,
                      total_cents, expires_at, claim_expires_at)
   SELECT gen_random_uuid(), $1, c, 'held', 2, true, 'EUR', 18000,
          now() + interval '1 hour', now() + interval '1 hour' FROM unnest($2::uuid[]) AS c`,
  [event.eventId, fans.slice(0, 10_000)]);
await db.query(
  `WITH h AS (
     INSERT INTO holds (hold_id, event_id, customer_id, state, quantity, adjacent, currency,
                        total_cents, expires_at, claim_expires_at, ended_at)
     SELECT gen_random_uuid(), $1, c, 'purchased', 2, true, 'EUR', 18000, now(), now(), now()
       FROM unnest($2::uuid[]) AS c
     RETURNING hold_id, customer_id)
   INSERT INTO orders (order_id, event_id, customer_id, hold_id, status, quantity,
                       total_cents, currency, confirmed_at)
   SELECT gen_random_uuid(), $1, h.customer_id, h.hold_id, 'confirmed', 2, 18000, 'EUR', now()
     FROM h`, [event.eventId, fans.slice(10_000, 15_000)]);

const dir = fileURLToPath(new URL('../src/storage/migrations/', import.meta.url));
const use = async (names: string[]): Promise<void> => {
  // 075 changed the function's return type: a version is created, not replaced.
  await db.query('DROP FUNCTION IF EXISTS hold_batch(uuid, jsonb, jsonb, text[])');
  for (const name of names) {
    const file = readdirSync(dir).find((entry) => entry.startsWith(`${name}_`));
    if (file === undefined) throw new Error(`no migration ${name}`);
    await db.exec(readFileSync(join(dir, file), 'utf8'));
  }
};
const times: Record<string, number[]> = { old: [], new: [] };
for (let round = 0; round < rounds; round++) {
  for (const name of ['old', 'new'] as const) {
    await use(versions[name]);
    await batch();
    for (let i = 0; i < 10; i++) {
      times[name]?.push(await batch());
      cpu[name]?.push(lastCpuMs);
    }
  }
}
for (const [name, xs] of Object.entries(times)) {
  xs.sort((a, b) => a - b);
  const cs = (cpu[name] ?? []).sort((a, b) => a - b);
  console.log(`${name} (${versions[name as 'old' | 'new'].join('+')}): batch of 32 median ${
    xs[Math.floor(xs.length / 2)]?.toFixed(1)} ms, min ${xs[0]?.toFixed(1)} ms, CPU median ${
    cs[Math.floor(cs.length / 2)]?.toFixed(1)} ms ` +
    `(${xs.length} batches; load ${loadavg().map((x) => x.toFixed(2)).join(' ')})`);
}
await db.close();
