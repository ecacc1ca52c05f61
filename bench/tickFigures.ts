/**
 * `npx tsx bench/tickFigures.ts [tickets] [admissions] [liveHolds] [ticks]`: the admission
 * tick at seed scale on PostgreSQL (issue 12). One event of `tickets` standing tickets
 * (default 50,000), 40 % sold, a history of ended holds, `liveHolds` live holds (default
 * 4,000; one in eight with a payment under way, one in eight lapsed and not swept) and
 * `admissions` live shoppers (default 10,000). Times whole ticks (tickLine, by the
 * database clock), and each of the figures' two forms on their own: the full recount
 * (queue_tick_figures, what every tick ran before migration 047) and the kept figures
 * (queue_tick_figures_kept, when the migration is there), with EXPLAIN's buffers.
 * The rows are written with SQL, not through the product's commands, to set up in seconds.
 */
import { readFile } from 'node:fs/promises';

import { createEvent, loadEvent } from '../src/catalog/events.js';
import { createVenue } from '../src/catalog/venues.js';
import { systemClock } from '../src/core/clock.js';
import { tickLine } from '../src/queue/admission.js';
import { joinLine } from '../src/queue/line.js';
import { insertCustomerRows } from '../src/testing/factories.js';
import type { Db } from '../src/storage/index.js';
import { benchPostgres, percentile } from './lib.js';

const capacity = Number(process.argv[2] ?? 50_000);
const admissions = Number(process.argv[3] ?? 10_000);
const liveHolds = Number(process.argv[4] ?? 4_000);
const ticks = Number(process.argv[5] ?? 30);

function summary(times: number[]): string {
  const sorted = [...times].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, t) => sum + t, 0) / sorted.length;
  return `mean ${mean.toFixed(2)} ms, p50 ${percentile(sorted, 50).toFixed(2)} ms, ` +
    `p99 ${percentile(sorted, 99).toFixed(2)} ms`;
}

/** Sold tickets, ended holds, live admissions and live holds, written directly. */
async function seedSale(db: Db, eventId: string): Promise<void> {
  const sold = Math.floor(capacity * 0.4);
  await db.query(
    `UPDATE tickets SET order_id = gen_random_uuid() WHERE event_id = $1 AND ticket_no <= $2`,
    [eventId, sold]);
  const fans = await db.query<{ customer_id: string }>(
    'SELECT customer_id FROM queue_entries WHERE event_id = $1 ORDER BY number', [eventId]);
  const ids = fans.rows.map((r) => r.customer_id);
  // The history: a hold per sold pair, ended (purchased or lapsed) over the last hour.
  await db.query(
    `INSERT INTO holds (hold_id, event_id, customer_id, state, quantity, adjacent, currency,
                        total_cents, expires_at, claim_expires_at, created_at, ended_at)
     SELECT gen_random_uuid(), $1, c, CASE WHEN i % 3 = 0 THEN 'expired' ELSE 'purchased' END,
            1 + i % 4, true, 'EUR', 4000, now() - i * interval '100 ms',
            now() - i * interval '100 ms', now() - i * interval '100 ms' - interval '5 min',
            now() - i * interval '100 ms'
       FROM unnest($2::uuid[]) WITH ORDINALITY AS x(c, i)`,
    [eventId, ids.slice(admissions, admissions + Math.floor(sold / 2))]);
  // Live shoppers: the first `admissions` in line, admitted over the pass's lifetime.
  await db.query(
    `INSERT INTO queue_admissions (event_id, customer_id, number, pass_id, admitted_at,
                                   claim_by, expires_at, claimed_at, leader_token)
     SELECT e.event_id, e.customer_id, e.number, gen_random_uuid(), a.t,
            a.t + interval '60 s', a.t + interval '900 s',
            a.t + (e.number % 300) * interval '1 s', 1
       FROM queue_entries e,
            LATERAL (SELECT now() - (e.number % 840) * interval '1 s' AS t) AS a
      WHERE e.event_id = $1 AND e.number <= $2`, [eventId, admissions]);
  await db.query(
    `UPDATE queue_state SET served_up_to = $2, first_admitted_at = now() - interval '15 min',
            last_tick_at = now() WHERE event_id = $1`, [eventId, admissions]);
  // Live holds of the first shoppers, on the first unsold tickets: one in eight lapsed
  // (not swept yet), one in eight with a payment under way (claim moved on).
  await db.query(
    `WITH h AS (
       SELECT gen_random_uuid() AS hold_id, c, 1 + i % 3 AS q, i,
              CASE WHEN i % 8 = 0 THEN now() - interval '30 s'
                   ELSE now() + (60 + i % 500) * interval '1 s' END AS exp,
              CASE WHEN i % 8 = 1 THEN now() + interval '20 min' END AS pay
         FROM unnest($2::uuid[]) WITH ORDINALITY AS x(c, i)
     ), placed AS (
       SELECT h.*, sum(q) OVER (ORDER BY i) - q AS first FROM h
     ), ins AS (
       INSERT INTO holds (hold_id, event_id, customer_id, state, quantity, adjacent, currency,
                          total_cents, expires_at, claim_expires_at, created_at)
       SELECT hold_id, $1, c, 'held', q, true, 'EUR', 4000 * q, exp, coalesce(pay, exp),
              now() - interval '1 min'
         FROM placed RETURNING hold_id
     ), orders_in AS (
       INSERT INTO orders (order_id, event_id, customer_id, hold_id, status, quantity,
                           total_cents, currency)
       SELECT gen_random_uuid(), $1, c, hold_id, 'pending_payment', q, 4000 * q, 'EUR'
         FROM placed WHERE pay IS NOT NULL RETURNING 1
     ), items AS (
       SELECT placed.*, $3 + first + g AS ticket_no FROM placed, generate_series(1, q) AS g
     ), items_in AS (
       INSERT INTO hold_items (hold_id, event_id, ticket_no, zone_key, price_cents)
       SELECT hold_id, $1, ticket_no, 'floor', 4000 FROM items RETURNING 1
     )
     UPDATE tickets t SET hold_id = p.hold_id, hold_expires_at = coalesce(p.pay, p.exp)
       FROM items p WHERE t.event_id = $1 AND t.ticket_no = p.ticket_no`,
    [eventId, ids.slice(0, liveHolds), sold]);
  await db.query('ANALYZE');
}

async function timeQuery(db: Db, sql: string, params: unknown[]): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < ticks; i++) {
    const t0 = performance.now();
    await db.query(sql, params);
    times.push(performance.now() - t0);
  }
  return times;
}

const db = await benchPostgres(4);
try {
  const venue = await createVenue(db, { name: 'Seed Hall', city: 'Benchtown',
    sections: [{ key: 'FLOOR', name: 'Floor', kind: 'standing', capacity }] });
  const created = await createEvent(db, systemClock, {
    venueId: venue.venueId, title: 'Seed scale', holdSeconds: 600,
    startsAt: new Date(Date.now() + 86_400_000).toISOString(),
    onSaleAt: new Date(Date.now() - 3_600_000).toISOString(),
    zones: [{ key: 'floor', name: 'Floor', priceCents: 4000, currency: 'EUR',
      sections: ['FLOOR'] }],
    queue: { enabled: true, admitPerMinute: 6_000, maxActiveShoppers: admissions + 2_000,
      passSeconds: 900 },
  });
  const event = await loadEvent(db, created.eventId);
  const ids = await insertCustomerRows(db, admissions + capacity);
  for (let i = 0; i < ids.length; i += 500) {
    await joinLine(db, event, ids.slice(i, i + 500), undefined);
  }
  await seedSale(db, event.eventId);
  const kept = (await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_proc WHERE proname = 'queue_tick_figures_kept'",
  )).rows[0]?.n === 1;
  const tickOptions = { token: 1, claimGraceSeconds: 60, idleSeconds: 3_600 };
  // Warm-up: the first ticks free the lapsed carts' slots; plans get cached.
  for (let i = 0; i < 5; i++) await tickLine(db, event, tickOptions);
  const times: number[] = [];
  for (let i = 0; i < ticks; i++) {
    const t0 = performance.now();
    const outcome = await tickLine(db, event, tickOptions);
    times.push(performance.now() - t0);
    if (outcome.kind !== 'ticked') throw new Error(`tick ${outcome.kind}`);
  }
  const shape = await db.query<Record<string, number>>(
    `SELECT * FROM queue_tick_figures($1, now(), 20)`, [event.eventId]);
  console.log(`event: ${capacity} tickets, ${admissions} admitted, ${liveHolds} live holds; ` +
    `figures ${JSON.stringify(shape.rows[0])}`);
  console.log(`tick (${kept ? 'kept figures' : 'full recount'}): ${summary(times)}`);
  const params = [event.eventId, 20];
  for (const fn of kept ? ['queue_tick_figures', 'queue_tick_figures_kept']
    : ['queue_tick_figures']) {
    const sql = `SELECT * FROM ${fn}($1, now(), $2)`;
    console.log(`${fn}: ${summary(await timeQuery(db, sql, params))}`);
    const plan = await db.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) ${sql}`, params);
    const lines = plan.rows.map((r) => r['QUERY PLAN']);
    const top = lines.find((l) => l.includes('Buffers')) ?? '';
    const exec = lines.find((l) => l.startsWith('Execution Time')) ?? '';
    console.log(`  EXPLAIN: ${top.trim()}; ${exec}`);
    if (process.env.PLANS === '1') console.log(lines.join('\n'));
  }
  // The slot release at the top of queue_tick_begin (045), as a read: its `due` set, the
  // walk over every live admission with its lookups into orders and holds.
  const begin = await readFile(new URL(
    '../src/storage/migrations/045_queue_tick.sql', import.meta.url), 'utf8');
  const due = begin.slice(begin.indexOf('WITH due AS (') + 'WITH due AS ('.length,
    begin.indexOf('ORDER BY CASE WHEN \'slot_order\'')).replace(/p_event/g, '$1')
    .replace(/v_now/g, 'now()').replace(/p_pass_seconds/g, '900')
    .replace(/p_idle_seconds/g, '3600');
  console.log(`slot release's due set: ${summary(await timeQuery(db,
    `SELECT count(*) FROM (${due}) AS d`, [event.eventId]))}`);
} finally {
  await db.close();
}
