/**
 * What taking every candidate's customer lock up front costs a ticket return: one ticket
 * comes back while `--waiting` fans (one ticket each, any zone) wait, so every one of them
 * is a candidate (up to `limits.waitlistOfferScan`) and one of them gets the offer. The two
 * lock orders of src/waitlist/offers.ts run interleaved in one process (A: each fan's lock
 * at their offer, `OfferSeams.lockPerOffer`, as before; B: all candidates' locks up front),
 * each return rolled back so every one meets the same waitlist.
 * `npx tsx bench/offerLocks.ts [--waiting=500] [--returns=200] [--pairs=3]`.
 * Printed per pair and variant: the load average, the median and p90 wall time of a return
 * transaction, the client process's CPU per return, and the advisory locks a return held.
 */
import { cpuUsage } from 'node:process';
import { loadavg } from 'node:os';
import { createEvent, loadEvent } from '../src/catalog/events.js';
import { createVenue } from '../src/catalog/venues.js';
import { systemClock } from '../src/core/clock.js';
import {
  offerReturnedTickets, type OfferSeams, type ReturnedTicket,
} from '../src/waitlist/offers.js';
import { benchPostgres } from './lib.js';

const argv = process.argv.slice(2);
const option = (name: string, fallback: number): number =>
  Number(argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
const waiting = option('waiting', 500);
const returns = option('returns', 200);
const pairs = option('pairs', 3);

const db = await benchPostgres(1);
const sections = [{ key: 'A', name: 'A', kind: 'seated' as const,
  rows: [{ label: '1', seats: 10 }] }];
const venue = await createVenue(db, { name: 'Lock Arena', city: 'Benchtown', sections });
const created = await createEvent(db, systemClock, {
  venueId: venue.venueId, title: 'Lock On-Sale', maxTicketsPerCustomer: 6,
  startsAt: new Date(Date.now() + 86_400_000).toISOString(),
  onSaleAt: new Date(Date.now() - 1000).toISOString(), holdSeconds: 600,
  zones: [{ key: 'z1', name: 'Z1', priceCents: 9000, currency: 'EUR', sections: ['A'] }],
});
const event = await loadEvent(db, created.eventId);
await db.query(
  `WITH c AS (
     INSERT INTO customers (customer_id, email, name, password_hash)
     SELECT gen_random_uuid(), 'lock-' || n || '-' || $2 || '@example.com', 'Fan', 'none'
       FROM generate_series(1, $1::int) AS n RETURNING customer_id)
   INSERT INTO waitlist_entries (event_id, customer_id, quantity, status)
   SELECT $2::uuid, customer_id, 1, 'waiting' FROM c`, [waiting, event.eventId]);
await db.query('VACUUM ANALYZE');
const { rows: [ticket] } = await db.query<{ ticket_no: number; zone_key: string }>(
  'SELECT ticket_no, zone_key FROM tickets WHERE event_id = $1 ORDER BY ticket_no LIMIT 1',
  [event.eventId]);
if (ticket === undefined) throw new Error('no ticket');
const returned: ReturnedTicket = ticket;

class RolledBack extends Error {}

/** One return, rolled back; its wall time in ms and the advisory locks it held. */
async function oneReturn(seams: OfferSeams): Promise<{ ms: number; locks: number }> {
  const started = performance.now();
  let locks = 0;
  try {
    await db.tx(async (tx) => {
      await tx.query('SELECT 1 FROM tickets WHERE event_id = $1 AND ticket_no = $2 FOR UPDATE',
        [event.eventId, returned.ticket_no]);
      const made = await offerReturnedTickets(tx, event.eventId, [returned], 'released',
        undefined, seams);
      if (made.length !== 1) throw new Error(`${made.length} offers made`);
      const { rows: [held] } = await tx.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks
          WHERE locktype = 'advisory' AND pid = pg_backend_pid()`);
      locks = held?.n ?? 0;
      throw new RolledBack();
    }, { maxAttempts: 1 });
  } catch (error) {
    if (!(error instanceof RolledBack)) throw error;
  }
  return { ms: performance.now() - started, locks };
}

const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

for (let n = 0; n < 20; n++) await oneReturn({}); // warm the connection's plans
console.log(`waiting ${waiting}, ${returns} returns per variant and pair`);
for (let pair = 1; pair <= pairs; pair++) {
  for (const [name, seams] of [['A per offer', { lockPerOffer: true as const }],
    ['B up front', {}]] as const) {
    const load = loadavg()[0]?.toFixed(1);
    const cpu = cpuUsage();
    const times: number[] = [];
    let locks = 0;
    for (let n = 0; n < returns; n++) {
      const one = await oneReturn(seams);
      times.push(one.ms);
      locks = one.locks;
    }
    const used = cpuUsage(cpu);
    times.sort((a, b) => a - b);
    console.log(`pair ${pair} ${name}: load ${load}, median ${quantile(times, 0.5).toFixed(2)} ms,`
      + ` p90 ${quantile(times, 0.9).toFixed(2)} ms, client CPU`
      + ` ${((used.user + used.system) / returns).toFixed(0)} us/return, advisory locks ${locks}`);
  }
}
await db.close();
