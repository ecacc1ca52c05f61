/**
 * `npx tsx bench/settleCost.ts [pairs] [checkoutsPerRound]`: PostgreSQL's cost per checkout
 * at seed scale, the settle batch of migration 064 (A) against 072's (B), alternated in one
 * database (A, B, A, B, ...), so both meet the same table sizes and the same bloat.
 *
 * The state: one event of 50,000 seats with 20,000 sold (10,000 confirmed orders, their
 * payments, tickets and outbox rows, written in bulk), 100,000 customers. Each round makes
 * fresh 2-seat holds (not measured), installs its variant's settle_batch, then checks them
 * out over HTTP (sim_ok, an Idempotency-Key each, 32 connections, the checkout benchmark's
 * shape). Per round: checkouts/s and p99; PostgreSQL CPU per checkout (user + system time
 * of every backend of the cluster, from /proc, while the round ran); and from
 * pg_stat_statements (top level) the settle batch's calls, items per call, time, buffer
 * hits and WAL per item, and all top-level statement time per checkout. Needs
 * TEST_DATABASE_URL on a PostgreSQL with pg_stat_statements loaded (track = all).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createEvent, loadEvent } from '../src/catalog/events.js';
import { createVenue } from '../src/catalog/venues.js';
import { systemClock } from '../src/core/clock.js';
import { createHold } from '../src/holds/holds.js';
import type { Db } from '../src/storage/index.js';
import { buildTestContext } from '../src/testing/context.js';
import { insertCustomerRows } from '../src/testing/factories.js';
import { benchPostgres, loadHttp, postJson, startBenchServer } from './lib.js';

const dayMs = 24 * 3600 * 1000;
const migrations = new URL('../src/storage/migrations/', import.meta.url);

/** CPU ms (user + system) of every process whose parent is `parent` (the postmaster). */
function childrenCpuMs(parent: number): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== parent) continue;
      total += (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      // the process ended between the listing and the read
    }
  }
  return total;
}

/** The postmaster's pid: the parent of this connection's backend. */
async function postmasterPid(db: Db): Promise<number> {
  const { rows } = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const stat = readFileSync(`/proc/${rows[0]?.pid ?? 0}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/**
 * SQL that makes variant A (checkout_begin_batch of 049 and settle_batch of 064, as 065 set
 * them) or B (072's).
 */
function variantSql(variant: 'A' | 'B'): string {
  const read = (name: string) => readFileSync(new URL(name, migrations), 'utf8');
  return variant === 'A'
    ? read('049_checkout_begin_batch.sql').replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION')
      + read('064_settle_batch_codes_in_sql.sql') + read('065_checkout_batches_no_seq_scan.sql')
    : read('072_checkout_batches_set_based_writes.sql');
}

/** 20,000 tickets sold to 10,000 confirmed orders, in bulk (sizes the tables). */
async function presell(db: Db, eventId: string, customers: string[]): Promise<void> {
  await db.query(
    `WITH pick AS (
       SELECT t.ticket_no, (row_number() OVER (ORDER BY t.ticket_no) - 1) / 2 AS k
         FROM tickets t WHERE t.event_id = $1 AND t.ticket_no % 5 < 2),
     sale AS (
       SELECT k, gen_random_uuid() AS hold_id, gen_random_uuid() AS order_id,
              gen_random_uuid() AS payment_id, ($2::uuid[])[k + 1] AS customer_id
         FROM pick GROUP BY k),
     h AS (INSERT INTO holds (hold_id, event_id, customer_id, state, quantity, adjacent,
                              currency, total_cents, expires_at, claim_expires_at, ended_at)
           SELECT hold_id, $1, customer_id, 'purchased', 2, true, 'EUR', 10000, now(), now(),
                  now() FROM sale RETURNING hold_id)
     SELECT count(*) FROM h`, [eventId, customers]);
  await db.query(
    `WITH pick AS (
       SELECT t.ticket_no, (row_number() OVER (ORDER BY t.ticket_no) - 1) / 2 AS k
         FROM tickets t WHERE t.event_id = $1 AND t.ticket_no % 5 < 2),
     h AS (SELECT hold_id, row_number() OVER (ORDER BY created_at, hold_id) - 1 AS k
             FROM holds WHERE event_id = $1)
     INSERT INTO hold_items (hold_id, event_id, ticket_no, zone_key, price_cents)
     SELECT h.hold_id, $1, p.ticket_no, 'seats', 5000 FROM pick p JOIN h ON h.k = p.k`,
  [eventId]);
  await db.query(
    `INSERT INTO orders (order_id, event_id, customer_id, hold_id, status, quantity,
                         total_cents, currency, confirmed_at)
     SELECT gen_random_uuid(), event_id, customer_id, hold_id, 'confirmed', 2, 10000, 'EUR',
            now() FROM holds WHERE event_id = $1`, [eventId]);
  await db.query(
    `INSERT INTO payments (payment_id, order_id, event_id, provider, method, amount_cents,
                           currency, status, provider_ref, settled_at)
     SELECT gen_random_uuid(), order_id, event_id, 'simulated', 'sim_ok', 10000, 'EUR',
            'captured', 'pre_' || order_id, now() FROM orders WHERE event_id = $1`, [eventId]);
  await db.query(
    `WITH sold AS (
       UPDATE tickets t SET order_id = o.order_id FROM hold_items i JOIN orders o
           ON o.hold_id = i.hold_id
        WHERE t.event_id = $1 AND t.event_id = i.event_id AND t.ticket_no = i.ticket_no
       RETURNING t.event_id, t.ticket_no, o.order_id)
     INSERT INTO order_tickets (ticket_id, order_id, event_id, ticket_no, zone_key,
                                price_cents, code, status)
     SELECT gen_random_uuid(), order_id, event_id, ticket_no, 'seats', 5000, ticket_code(),
            'valid' FROM sold`, [eventId]);
  await db.query(
    `INSERT INTO outbox_events (event_id, kind, payload, published_at, version)
     SELECT $1, 'order.confirmed', jsonb_build_object('orderId', order_id), now(), 0
       FROM orders WHERE event_id = $1`, [eventId]);
  await db.query('ANALYZE');
}

interface Figures {
  variant: string; rate: number; p99: number; ok: number; pgCpuMs: number;
  settleCalls: number; settleMs: number; settleHits: number; settleWal: number;
  beginMs: number; beginHits: number; topMs: number; topHits: number; load: string;
}

/** Top-level figures of the statements matching `like` since the last reset. */
async function statementFigures(db: Db, like: string): Promise<{ calls: number; ms: number;
  hits: number; wal: number }> {
  const { rows } = await db.query<{ calls: string; ms: number; hits: string; wal: string }>(
    `SELECT coalesce(sum(calls), 0) AS calls, coalesce(sum(total_exec_time), 0) AS ms,
            coalesce(sum(shared_blks_hit), 0) AS hits, coalesce(sum(wal_bytes), 0) AS wal
       FROM pg_stat_statements
      WHERE toplevel AND query LIKE $1
        AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  [like]);
  const r = rows[0];
  return { calls: Number(r?.calls), ms: Number(r?.ms), hits: Number(r?.hits),
    wal: Number(r?.wal) };
}

/** The statements inside the functions (track = all) that read most buffers, per checkout. */
async function printInner(db: Db, variant: string, checkouts: number): Promise<void> {
  const { rows } = await db.query<{ calls: string; ms: number; hits: string; query: string }>(
    `SELECT calls, total_exec_time AS ms, shared_blks_hit AS hits,
            regexp_replace(left(query, 70), '\\s+', ' ', 'g') AS query
       FROM pg_stat_statements
      WHERE NOT toplevel
        AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY shared_blks_hit DESC LIMIT 14`);
  console.log(`${variant}: inner statements by buffer hits (per checkout: calls, ms, hits)`);
  for (const r of rows) {
    const per = (x: number | string) => (Number(x) / checkouts).toFixed(2);
    console.log(`  ${per(r.calls)}  ${per(r.ms)}  ${per(r.hits)}  ${r.query}`);
  }
}

async function main(): Promise<void> {
  const pairs = Number(process.argv[2] ?? 3);
  const perRound = Number(process.argv[3] ?? 1_000);
  const db = await benchPostgres(20);
  const ctx = buildTestContext(db);
  const sections = Array.from({ length: 10 }, (_, s) => ({
    key: `S${s}`, name: `Section ${s}`, kind: 'seated' as const,
    rows: Array.from({ length: 50 }, (_, r) => ({ label: String(r + 1), seats: 100 })),
  }));
  const venue = await createVenue(db, { name: 'Seed Arena', city: 'Benchtown', sections });
  const created = await createEvent(db, systemClock, {
    venueId: venue.venueId, title: 'Seed Night', holdSeconds: 3600,
    maxTicketsPerCustomer: 8,
    startsAt: new Date(Date.now() + 30 * dayMs).toISOString(),
    onSaleAt: new Date(Date.now() - 1000).toISOString(),
    zones: [{ key: 'seats', name: 'Seats', priceCents: 5000, currency: 'EUR',
      sections: sections.map((s) => s.key) }],
  });
  const event = await loadEvent(db, created.eventId);
  const customers = await insertCustomerRows(db, 100_000);
  await presell(db, event.eventId, customers.slice(0, 10_000));
  await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  const postmaster = await postmasterPid(db);
  const server = await startBenchServer(db, { connections: 32 });
  const results: Figures[] = [];
  let next = 10_000;
  try {
    for (let round = 0; round < 2 * pairs; round++) {
      const variant = round % 2 === 0 ? 'A' : 'B';
      await db.exec(variantSql(variant));
      const fans = customers.slice(next, next + perRound);
      next += perRound;
      const holds: string[] = [];
      for (const fan of fans) {
        holds.push((await createHold(db, event, fan, { zone: 'seats', quantity: 2 })).holdId);
      }
      const specs = holds.map((holdId, i) => postJson(`/api/v1/holds/${holdId}/checkout`,
        { paymentMethod: 'sim_ok' }, {
          authorization: `Bearer ${ctx.tokens.issue(fans[i] ?? '')}`,
          'idempotency-key': `seed-${round}-${i}`,
        }));
      await db.query('SELECT pg_stat_statements_reset()');
      const cpu0 = childrenCpuMs(postmaster);
      const row = await loadHttp(`checkout ${variant}`, server.url, specs,
        { concurrency: 32, maxMs: 60_000 });
      // The gateway's webhooks (50 ms and later) belong to the round too.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const pgCpuMs = childrenCpuMs(postmaster) - cpu0;
      const s = await statementFigures(db, '%FROM settle_batch(%');
      const b = await statementFigures(db, '%FROM checkout_begin_batch(%');
      const all = await statementFigures(db, '%');
      const figures: Figures = {
        variant, rate: row.opsPerSec, p99: row.p99Ms, ok: row.ops - row.errors, pgCpuMs,
        settleCalls: s.calls, settleMs: s.ms, settleHits: s.hits, settleWal: s.wal,
        beginMs: b.ms, beginHits: b.hits, topMs: all.ms, topHits: all.hits,
        load: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
      };
      results.push(figures);
      if (round >= 2 * pairs - 2) await printInner(db, variant, figures.ok);
      const per = (x: number) => (x / figures.ok).toFixed(2);
      console.log(`${variant}: ${figures.rate.toFixed(0)}/s p99 ${figures.p99.toFixed(0)} ms ` +
        `ok ${figures.ok}; PG CPU ${per(pgCpuMs)} ms/checkout; settle ${s.calls} calls ` +
        `(${(figures.ok / s.calls).toFixed(1)} checkouts/call) ${per(s.ms)} ms, ` +
        `${per(s.hits)} hits, ${(s.wal / figures.ok).toFixed(0)} B WAL per checkout; ` +
        `begin ${per(b.ms)} ms ${per(b.hits)} hits; all top-level ${per(all.ms)} ms ` +
        `${per(all.hits)} hits per checkout; load ${figures.load}`);
    }
  } finally {
    await server.close();
    await db.close();
  }
  console.log(JSON.stringify(results));
}

await main();
