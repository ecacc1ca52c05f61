/**
 * What the waitlist's offers cost as the waitlist and live holds grow: holds lapse, the
 * expiry sweeper returns their tickets and offers each to the next fan waiting (the
 * sweeper's transaction, src/waitlist/offers.ts), on one connection whose first sweeps ran
 * on empty tables. `npx tsx bench/offerScale.ts --stats=stale|analyzed
 * [--waiting=10000,100000] [--live=30000] [--returns=64] [--explain]`.
 *
 * `--stats=stale`: autovacuum is off for the tables the offers read and nothing analyzes
 * them, so the connection keeps the plans it cached on the empty tables (its functions' and
 * its foreign-key checks'); `--stats=analyzed`: they are analyzed before each point.
 * Printed per point: the sweep's time, and per offer the rows read from each table by
 * sequential scan and by index (pg_stat_user_tables), so a statement (or a foreign-key
 * check) whose reads grow with the tables shows itself.
 */
import { loadavg } from 'node:os';
import { createEvent, loadEvent } from '../src/catalog/events.js';
import { createVenue } from '../src/catalog/venues.js';
import { systemClock } from '../src/core/clock.js';
import { newId } from '../src/core/ids.js';
import { runHoldBatch } from '../src/holds/batch.js';
import { limits } from '../src/config/limits.js';
import { sweepExpiredHolds, sweepSql } from '../src/holds/sweeper.js';
import { offerSql } from '../src/waitlist/offers.js';
import type { Db, Queryable } from '../src/storage/index.js';
import { benchPostgres, insertFillerHolds } from './lib.js';

const argv = process.argv.slice(2);
const option = (name: string): string | undefined =>
  argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const stats = option('stats') ?? 'stale';
const points = (option('waiting') ?? '10000,100000').split(',').map(Number);
const live = Number(option('live') ?? 30_000);
const returns = Number(option('returns') ?? 64);
const tables = ['holds', 'orders', 'waitlist_entries', 'waitlist_offers', 'tickets',
  'hold_items', 'customers'];

// One connection: the plans it caches on the empty tables are the ones it keeps.
const db = await benchPostgres(1);
const sections = Array.from({ length: 16 }, (_, s) => ({
  key: `S${s + 1}`, name: `Section ${s + 1}`, kind: 'seated' as const,
  rows: Array.from({ length: 25 }, (_, r) => ({ label: String(r + 1), seats: 50 })),
}));
const venue = await createVenue(db, { name: 'Offer Arena', city: 'Benchtown', sections });
const created = await createEvent(db, systemClock, {
  venueId: venue.venueId, title: 'Offer On-Sale', maxTicketsPerCustomer: 6,
  startsAt: new Date(Date.now() + 86_400_000).toISOString(),
  onSaleAt: new Date(Date.now() - 1000).toISOString(), holdSeconds: 600,
  zones: [{ key: 'z1', name: 'Z1', priceCents: 9000, currency: 'EUR',
    sections: sections.map((section) => section.key) }],
});
const event = await loadEvent(db, created.eventId);
const maxWaiting = Math.max(...points);
await db.query(
  `INSERT INTO customers (customer_id, email, name, password_hash)
   SELECT gen_random_uuid(), 'offer-' || lpad(n::text, 7, '0') || '@example.com', 'Fan', 'none'
     FROM generate_series(1, $1::int) AS n`, [maxWaiting + Math.ceil(live * 1.5) + 20_000]);
const { rows: fanRows } = await db.query<{ id: string }>(
  'SELECT customer_id AS id FROM customers ORDER BY email');
const fans = fanRows.map((row) => row.id);
const waiters = fans.slice(0, maxWaiting);
const filler = fans.slice(maxWaiting, maxWaiting + Math.ceil(live * 1.5));
const shoppers = fans.slice(maxWaiting + Math.ceil(live * 1.5));
await db.query('VACUUM ANALYZE');
if (stats === 'stale') {
  for (const table of tables) {
    await db.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
  }
}
const { rows: ticketRows } = await db.query<{ ticket_no: number }>(
  'SELECT ticket_no FROM tickets WHERE event_id = $1 ORDER BY ticket_no', [event.eventId]);
const free = ticketRows.map((row) => row.ticket_no);
let nextShopper = 0;
let waitingNow = 0;

/** Adds waiting entries up to `n` (one ticket, any zone; offered earliest first). */
const addWaiting = async (n: number): Promise<void> => {
  if (n <= waitingNow) return;
  await db.query(
    `INSERT INTO waitlist_entries (event_id, customer_id, quantity, status)
     SELECT $1, c, 1, 'waiting' FROM unnest($2::uuid[]) AS c`,
    [event.eventId, waiters.slice(waitingNow, n)]);
  waitingNow = n;
};
/** `n` holds of one ticket by shoppers, made by the batch, then lapsed; their ids. */
const lapse = async (n: number): Promise<string[]> => {
  const requests = free.splice(0, n).map((ticketNo) => ({
    holdId: newId(), customerId: shoppers[nextShopper++] as string, quantity: 1,
    claim: { kind: 'seats' as const, ticketNos: [ticketNo] },
  }));
  const outcomes = await runHoldBatch(db, event, requests);
  if (outcomes.some((o) => o.outcome !== 'held')) throw new Error('a hold was refused');
  const ids = requests.map((r) => r.holdId);
  await db.query(
    `WITH h AS (UPDATE holds SET expires_at = now() - interval '1 second',
                                 claim_expires_at = now() - interval '1 second',
                                 created_at = now() - interval '1 minute'
                 WHERE hold_id = ANY($1::uuid[]) RETURNING hold_id)
     UPDATE tickets SET hold_expires_at = now() - interval '1 second'
      WHERE event_id = $2 AND hold_id IN (SELECT hold_id FROM h)`, [ids, event.eventId]);
  return ids;
};
/** `n` holds of one ticket by shoppers, made by the batch, then lapsed, then swept. */
const sweepRound = async (n: number): Promise<{ ms: number; offers: number }> => {
  await lapse(n);
  return await sweepLapsed(n);
};
/** Offers made so far. */
const offersMade = async (): Promise<number> => {
  const { rows: [made] } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM waitlist_offers');
  return made?.n ?? 0;
};
/** Sweeps `n` lapsed holds; the time taken. */
const sweepOnly = async (n: number): Promise<number> => {
  const t0 = performance.now();
  let swept = 0;
  while (swept < n) {
    const result = await sweepExpiredHolds(db, n);
    if (result.holds === 0) break;
    swept += result.holds;
  }
  return performance.now() - t0;
};
/** Sweeps `n` lapsed holds: the time taken and the offers made. */
const sweepLapsed = async (n: number): Promise<{ ms: number; offers: number }> => {
  const before = await offersMade();
  const ms = await sweepOnly(n);
  return { ms, offers: await offersMade() - before };
};
/**
 * `--explain`: the sweep's own statements (src/holds/sweeper.ts, src/waitlist/offers.ts)
 * under EXPLAIN (ANALYZE, BUFFERS) on `n` lapsed holds, in a transaction rolled back, with
 * the sweep's planner settings (`--explain-unset`: without them); then
 * the holds are swept for real so the next point starts clean.
 */
const explain = async (n: number): Promise<void> => {
  const ids = await lapse(n);
  const statements: [string, string, unknown[]][] = [
    ['lapsed holds', `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sweepSql.lapsed}`, [n]],
    ['their tickets', `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sweepSql.release}`, [ids]],
    ['anyone waiting', `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${offerSql.anyWaiting}`,
      [event.eventId]],
    ['the waiting read', `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${offerSql.waiting}`,
      [event.eventId, limits.waitlistOfferScan]],
  ];
  const rolledBack = new Error('rolled back');
  await db.tx(async (tx) => {
    if (!argv.includes('--explain-unset')) await tx.query(offerSql.keyedOnly);
    for (const [title, sql, params] of statements) {
      const { rows } = await tx.query<{ 'QUERY PLAN': string }>(sql, params);
      console.log(`  -- ${title}\n${rows.map((r) => `  ${r['QUERY PLAN']}`).join('\n')}`);
    }
    throw rolledBack;
  }).catch((error: unknown) => { if (error !== rolledBack) throw error; });
  let swept = 0;
  while (swept < n) {
    const result = await sweepExpiredHolds(db, n);
    if (result.holds === 0) break;
    swept += result.holds;
  }
};
/**
 * `--trace`: one sweep of `n` lapsed holds whose every statement (the offers' and their
 * triggers' included) is followed by a read of this transaction's own table counters
 * (pg_stat_xact_user_tables); a statement that read more than 1,000 rows of a table by
 * sequential scan is printed with the count.
 */
const trace = async (n: number): Promise<void> => {
  await lapse(n);
  const counters = async (tx: Queryable): Promise<Map<string, number>> => {
    const { rows } = await tx.query<{ relname: string; seq: string }>(
      'SELECT relname, seq_tup_read AS seq FROM pg_stat_xact_user_tables');
    return new Map(rows.map((r) => [r.relname, Number(r.seq)]));
  };
  const traced: Db = {
    ...db,
    tx: async (work, options) => await db.tx(async (tx) => {
      let last = await counters(tx);
      const proxy: Queryable = {
        query: async (sql: string, params?: unknown[]) => {
          const result = await tx.query(sql, params);
          const now = await counters(tx);
          for (const [table, seq] of now) {
            const grew = seq - (last.get(table) ?? 0);
            if (grew > 1000) {
              console.log(`  ${table}: ${grew} rows by sequential scan in: ${
                sql.replace(/\s+/g, ' ').slice(0, 160)}`);
            }
          }
          last = now;
          return result;
        },
        exec: async (sql: string) => await tx.exec(sql),
      } as Queryable;
      return await work(proxy);
    }, options),
  };
  await sweepExpiredHolds(traced, n);
};
let fillerUsed = 0;
/** Live holds of filler customers up to `n`, and half as many confirmed orders. */
const growHolds = async (n: number): Promise<void> => {
  const more = n - fillerUsed / 1.5;
  if (more <= 0) return;
  const holders = filler.slice(fillerUsed, fillerUsed + more);
  const buyers = filler.slice(fillerUsed + more, fillerUsed + more + Math.floor(more / 2));
  fillerUsed += holders.length + buyers.length;
  await insertFillerHolds(db, event.eventId, holders, buyers);
};
type Reads = Map<string, { seq: number; idx: number; scans: number }>;
const reads = async (): Promise<Reads> => {
  await db.query('SELECT pg_stat_force_next_flush()');
  await db.query('SELECT 1');
  const { rows } = await db.query<{ relname: string; seq: string; idx: string; scans: string }>(
    `SELECT relname, seq_tup_read AS seq, coalesce(idx_tup_fetch, 0) AS idx, seq_scan AS scans
       FROM pg_stat_user_tables WHERE relname = ANY($1)
     UNION ALL
     SELECT indexrelname, 0, idx_tup_read, idx_scan
       FROM pg_stat_user_indexes WHERE relname = ANY($1)`, [tables]);
  return new Map(rows.map((r) => [r.relname,
    { seq: Number(r.seq), idx: Number(r.idx), scans: Number(r.scans) }]));
};
// The connection's first sweeps and offers, on empty tables: its cached plans are made here.
await addWaiting(20);
for (let i = 0; i < 3; i++) await sweepRound(4);
console.log(`stats: ${stats}`);
for (const waiting of points) {
  await addWaiting(waiting);
  await growHolds(live);
  if (stats === 'analyzed') await db.query(`ANALYZE ${tables.join(', ')}`);
  await sweepRound(8);
  // Only the sweep is counted: the holds are made and lapsed before the first reading.
  await lapse(returns);
  const offered = await offersMade();
  const before = await reads();
  const ms = await sweepOnly(returns);
  const after = await reads();
  const offers = await offersMade() - offered;
  const per = (table: string): string => {
    const a = after.get(table);
    const b = before.get(table);
    return `${table} ${((( a?.seq ?? 0) - (b?.seq ?? 0)) / offers).toFixed(0)}/${
      (((a?.idx ?? 0) - (b?.idx ?? 0)) / offers).toFixed(0)}`;
  };
  console.log(`waiting ${waiting}, live holds ${live}, load ${loadavg().map((x) => x.toFixed(2))
    .join(' ')}: ${returns} returns swept in ${ms.toFixed(0)} ms, ${offers} offers; rows read ` +
    `per offer (seq/idx): ${tables.map(per).join(', ')}`);
  // Which indexes were walked: index entries read per offer, the largest first.
  const walked = [...after].filter(([name]) => !tables.includes(name))
    .map(([name, a]) => [name, (a.idx - (before.get(name)?.idx ?? 0)) / offers] as const)
    .filter(([, n]) => n >= 20).sort((x, y) => y[1] - x[1]);
  console.log(`  index entries read per offer: ${
    walked.map(([name, n]) => `${name} ${n.toFixed(0)}`).join(', ')}`);
  if (argv.includes('--explain')) await explain(returns);
  if (argv.includes('--trace')) await trace(returns);
}
await db.close();
