/**
 * What the unsold tickets' zone index (migration 079) saves a standing zone's claim.
 *
 * An event of the rehearsal's shape on a fresh PostgreSQL database: 40,000 seats in two
 * seated zones and a standing zone "floor" of `units` units. The sale is brought to 0 %,
 * 50 % and 95 % sold (3 % held at the last two, by live holds), each zone alike, tickets
 * analyzed after each step as the maintenance duty would and never vacuumed (it does not
 * vacuum tickets). At each step, in turn, A (the index dropped in a transaction rolled back
 * afterwards: as before 079) and B (the index as migrated), `pairs` times:
 *  - the hold batch's pick and recount, their text as in hold_batch (075), prepared with the
 *    function's settings (force_generic_plan, no sequential scan) in the transaction, run
 *    under EXPLAIN (ANALYZE, BUFFERS) from `picks` random starts: shared buffers per call
 *    (hit + read; load-independent) and the index each read;
 *  - one hold_batch call under auto_explain (nested statements): the index the function's
 *    own pick and recount read, with their buffers (a second request asks for one unit more
 *    than is free, so the batch recounts), and of the claim's ticket updates, how many were
 *    HOT; then one sale (order_id set), HOT or not;
 *  - the event page's zone counts as they are read, and the same figures read from the
 *    unsold tickets only (sold = capacity - unsold), under the server's default settings.
 * Then ticket creation: 110,000 tickets (100,000 seats, 10,000 units) inserted in a
 * transaction rolled back, A and B in turn: backend CPU, WAL bytes, wall time.
 *
 * `npx tsx bench/unsoldZoneIndex.ts [--units=10000] [--pairs=3] [--picks=20]`
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createEvent, loadEvent } from '../src/catalog/events.js';
import { createVenue } from '../src/catalog/venues.js';
import { ticketState } from '../src/inventory/availability.js';
import { systemClock } from '../src/core/clock.js';
import { newId } from '../src/core/ids.js';
import { testDatabaseUrl } from '../src/testing/services.js';
import { benchPostgres } from './lib.js';

const argv = process.argv.slice(2);
const option = (name: string, fallback: number): number =>
  Number(argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
const units = option('units', 10_000);
const pairs = option('pairs', 3);
const picks = option('picks', 20);
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');
const out = (line: string): void => { process.stdout.write(`${line}\n`); };

const db = await benchPostgres(2);
const { rows: [named] } = await db.query<{ d: string }>('SELECT current_database() AS d');
const url = new URL(testDatabaseUrl);
url.pathname = `/${(named as { d: string }).d}`;
const seated = Array.from({ length: 16 }, (_, s) => ({
  key: `S${s + 1}`, name: `Section ${s + 1}`, kind: 'seated' as const,
  rows: Array.from({ length: 25 }, (_, r) => ({ label: String(r + 1), seats: 100 })),
}));
const venue = await createVenue(db, { name: 'Floor Hall', city: 'Benchtown', sections: [
  ...seated, { key: 'FLOOR', name: 'Floor', kind: 'standing', capacity: units }] });
const created = await createEvent(db, systemClock, {
  venueId: venue.venueId, title: 'Floor On-Sale', maxTicketsPerCustomer: 50, holdSeconds: 3600,
  startsAt: new Date(Date.now() + 86_400_000).toISOString(),
  onSaleAt: new Date(Date.now() - 1000).toISOString(),
  zones: [
    { key: 'lower', name: 'Lower', priceCents: 9000, currency: 'EUR',
      sections: seated.slice(0, 8).map((s) => s.key) },
    { key: 'upper', name: 'Upper', priceCents: 6000, currency: 'EUR',
      sections: seated.slice(8).map((s) => s.key) },
    { key: 'floor', name: 'Floor', priceCents: 5000, currency: 'EUR', sections: ['FLOOR'] },
  ],
});
const event = await loadEvent(db, created.eventId);
const eventId = event.eventId;
const [fan] = (await db.query<{ id: string }>(
  `INSERT INTO customers (customer_id, email, name, password_hash)
   VALUES (gen_random_uuid(), 'floor-bench@example.com', 'Floor Fan', 'none')
   RETURNING customer_id AS id`)).rows;

const client = new pg.Client({ connectionString: url.toString() });
await client.connect();
async function q<T>(sql: string, params: unknown[] = []): Promise<T[]> {
  return (await client.query(sql, params)).rows as T[];
}
const [backend] = await q<{ pid: number }>('SELECT pg_backend_pid() AS pid');
const cpuMs = (): number => Number(
  readFileSync(`/proc/${(backend as { pid: number }).pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
await q('ALTER TABLE tickets SET (autovacuum_enabled = false)');
const [range] = await q<{ first: number; last: number; total: number }>(
  `SELECT min(ticket_no) FILTER (WHERE zone_key = 'floor')::int AS first,
          max(ticket_no) FILTER (WHERE zone_key = 'floor')::int AS last,
          count(*)::int AS total
     FROM tickets WHERE event_id = $1`, [eventId]);
const { first, last, total } = range as { first: number; last: number; total: number };

// hold_batch's statements (075), the function's variables as parameters.
const available = 'order_id IS NULL AND (hold_id IS NULL OR hold_expires_at <= now())';
const pickSql = `
  WITH above AS (
    SELECT ticket_no FROM tickets
     WHERE event_id = $1 AND zone_key = $2 AND ticket_no >= $3 AND ticket_no <> ALL($4)
       AND ${available}
     ORDER BY ticket_no LIMIT $5 FOR UPDATE SKIP LOCKED),
  below AS (
    SELECT ticket_no FROM tickets
     WHERE event_id = $1 AND zone_key = $2 AND ticket_no < $3 AND ticket_no <> ALL($4)
       AND ${available}
     ORDER BY ticket_no LIMIT $5 FOR UPDATE SKIP LOCKED),
  pick AS ((SELECT ticket_no FROM above) UNION ALL (SELECT ticket_no FROM below) LIMIT $5)
  SELECT array_agg(ticket_no ORDER BY ticket_no) FROM pick`;
const recountSql = `
  SELECT count(*)::int FROM tickets
   WHERE event_id = $1 AND zone_key = $2 AND ticket_no <> ALL($3) AND ${available}`;

const zoneCountsSql = `
  SELECT event_id, zone_key,
         count(*) FILTER (WHERE ${ticketState.held})::int AS held,
         count(*) FILTER (WHERE ${ticketState.sold})::int AS sold
    FROM tickets
   WHERE event_id = ANY($1::uuid[]) AND (order_id IS NOT NULL OR hold_id IS NOT NULL)
   GROUP BY event_id, zone_key`;
const zoneCountsUnsoldSql = `
  SELECT z.event_id, z.zone_key,
         count(t.ticket_no) FILTER (WHERE t.hold_id IS NOT NULL
                                      AND t.hold_expires_at > now())::int AS held,
         (z.capacity - count(t.ticket_no))::int AS sold
    FROM zones z LEFT JOIN tickets t
      ON t.event_id = z.event_id AND t.zone_key = z.zone_key AND t.order_id IS NULL
   WHERE z.event_id = ANY($1::uuid[])
   GROUP BY z.event_id, z.zone_key, z.capacity`;

interface PlanNode {
  'Index Name'?: string;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}

function indexes(node: PlanNode, into = new Set<string>()): Set<string> {
  if (node['Index Name'] !== undefined) into.add(node['Index Name']);
  for (const child of node.Plans ?? []) indexes(child, into);
  return into;
}

async function explained(sql: string): Promise<{ buffers: number; index: string }> {
  const [row] = await q<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(
    `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`);
  const plan = (row as { 'QUERY PLAN': { Plan: PlanNode }[] })['QUERY PLAN'][0]?.Plan;
  if (plan === undefined) throw new Error('no plan');
  return {
    buffers: (plan['Shared Hit Blocks'] ?? 0) + (plan['Shared Read Blocks'] ?? 0),
    index: [...indexes(plan)].sort().join('+') || '-',
  };
}

// auto_explain's notices for the function's nested statements, while `capture` is set.
let captured: string[] | undefined;
client.on('notice', (notice) => { captured?.push(notice.message ?? ''); });
await q("LOAD 'auto_explain'");
await q(`SET auto_explain.log_analyze = on; SET auto_explain.log_buffers = on;
  SET auto_explain.log_nested_statements = on; SET auto_explain.log_level = notice;
  SET auto_explain.log_timing = off; SET client_min_messages = notice`);

/** Buffers and indexes of the nested statement whose text starts with `marker`. */
function nested(texts: string[], marker: string): string {
  const text = texts.find((t) => t.replace(/\s+/g, ' ').includes(`Query Text: ${marker}`));
  if (text === undefined) return 'not run';
  const used = [...new Set([...text.matchAll(/Scan (?:using|on) (\w+)/g)].map((m) => m[1]))];
  const hit = /Buffers: shared hit=(\d+)(?: read=(\d+))?/.exec(text);
  const buffers = Number(hit?.[1] ?? 0) + Number(hit?.[2] ?? 0);
  return `${buffers} buffers, ${used.join('+') || 'no index'}`;
}

interface Sample { pick: number[]; recount: number[]; pickIndex: Set<string>;
  recountIndex: Set<string>; fnPick: string; fnRecount: string; claimHot: string;
  saleHot: string; counts: string }

async function updates(): Promise<{ upd: number; hot: number }> {
  const [row] = await q<{ upd: number; hot: number }>(
    `SELECT coalesce(n_tup_upd, 0)::int AS upd, coalesce(n_tup_hot_upd, 0)::int AS hot
       FROM pg_stat_xact_user_tables WHERE relname = 'tickets'`);
  return row ?? { upd: 0, hot: 0 };
}

async function measure(withIndex: boolean, free: number): Promise<Sample> {
  const sample: Sample = { pick: [], recount: [], pickIndex: new Set(), recountIndex: new Set(),
    fnPick: '', fnRecount: '', claimHot: '', saleHot: '', counts: '' };
  await q('BEGIN');
  try {
    if (!withIndex) await q('DROP INDEX tickets_unsold_zone_idx');
    // The event page's zone counts (inventory/availability.ts), planned as the page plans
    // them, and the same figures read from the unsold tickets (sold = capacity - unsold).
    const counted = await explained(zoneCountsSql.replace('$1', `'{${eventId}}'`));
    const fromUnsold = await explained(zoneCountsUnsoldSql.replace('$1', `'{${eventId}}'`));
    sample.counts = `${counted.buffers} ${counted.index}; ${fromUnsold.buffers} ${
      fromUnsold.index}`;
    await q('SET LOCAL plan_cache_mode = force_generic_plan');
    await q('SET LOCAL enable_seqscan = off');
    await q(`PREPARE pick(uuid, text, int, int[], int) AS ${pickSql}`);
    await q(`PREPARE recount(uuid, text, int[]) AS ${recountSql}`);
    for (let i = 0; i < picks; i++) {
      const start = first + Math.floor(Math.random() * (last - first + 1));
      const pick = await explained(`EXECUTE pick('${eventId}', 'floor', ${start}, '{}', 2)`);
      sample.pick.push(pick.buffers);
      sample.pickIndex.add(pick.index);
      const recount = await explained(`EXECUTE recount('${eventId}', 'floor', '{}')`);
      sample.recount.push(recount.buffers);
      sample.recountIndex.add(recount.index);
    }
    const info = JSON.stringify({
      hold_seconds: 3600, max_per_customer: 1_000_000, cancelled: false, currency: 'EUR',
      on_sale_at: new Date(event.onSaleAtMs).toISOString(),
      starts_at: new Date(event.startsAtMs).toISOString(),
      prices: Object.fromEntries(event.zones.map((zone) => [zone.key, zone.priceCents])),
    });
    const start = first + Math.floor(Math.random() * (last - first + 1));
    const requests = JSON.stringify([
      { i: newId(), c: fan?.id, q: 2, k: 'units', z: 'floor', s: start },
      { i: newId(), c: fan?.id, q: free - 1, k: 'units', z: 'floor', s: start }]);
    const before = await updates();
    captured = [];
    await q('SET LOCAL auto_explain.log_min_duration = 0');
    const outcomes = await q<{ outcome: string }>(
      'SELECT outcome FROM hold_batch($1::uuid, $2::jsonb, $3::jsonb, \'{}\') ORDER BY n',
      [eventId, info, requests]);
    await q('SET LOCAL auto_explain.log_min_duration = -1');
    const texts = captured;
    captured = undefined;
    if (outcomes.map((o) => o.outcome).join() !== 'held,sold_out') {
      throw new Error(`unexpected outcomes ${outcomes.map((o) => o.outcome).join()}`);
    }
    sample.fnPick = nested(texts, 'WITH above');
    sample.fnRecount = nested(texts, 'SELECT count(*)::int');
    const claimed = await updates();
    sample.claimHot = `${claimed.hot - before.hot}/${claimed.upd - before.upd}`;
    await q(`UPDATE tickets SET order_id = gen_random_uuid()
              WHERE event_id = $1 AND ticket_no = (SELECT min(ticket_no) FROM tickets
                                                    WHERE event_id = $1 AND order_id IS NULL)`,
      [eventId]);
    const sold = await updates();
    sample.saleHot = `${sold.hot - claimed.hot}/${sold.upd - claimed.upd}`;
  } finally {
    await q('ROLLBACK');
    await q('DEALLOCATE ALL');
  }
  return sample;
}

/** Sells more tickets of every zone (at random) and re-places the live holds. */
async function bringTo(soldShare: number, heldShare: number): Promise<number> {
  await q(`UPDATE tickets SET hold_id = NULL, hold_expires_at = NULL
            WHERE event_id = $1 AND hold_id IS NOT NULL`, [eventId]);
  await q(
    `UPDATE tickets SET order_id = gen_random_uuid()
      WHERE event_id = $1 AND ticket_no IN (
        SELECT ticket_no FROM tickets WHERE event_id = $1 AND order_id IS NULL
         ORDER BY random()
         LIMIT greatest(0, $2::int - (SELECT count(*) FROM tickets
                                      WHERE event_id = $1 AND order_id IS NOT NULL)))`,
    [eventId, Math.round(total * soldShare)]);
  await q(
    `UPDATE tickets SET hold_id = gen_random_uuid(), hold_expires_at = now() + interval '1 hour'
      WHERE event_id = $1 AND ticket_no IN (
        SELECT ticket_no FROM tickets WHERE event_id = $1 AND order_id IS NULL
         ORDER BY random() LIMIT $2)`,
    [eventId, Math.round(total * heldShare)]);
  await q('ANALYZE tickets');
  const [row] = await q<{ free: number }>(
    `SELECT count(*)::int AS free FROM tickets
      WHERE event_id = $1 AND zone_key = 'floor' AND ${available}`, [eventId]);
  return row?.free ?? 0;
}

const mean = (xs: number[]): string => (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1);
const span = (xs: number[]): string => `${Math.min(...xs)}–${Math.max(...xs)}`;

out(`floor: ${units} units (tickets ${first}–${last} of ${total}); ${picks} picks per variant`);
for (const [soldShare, heldShare] of [[0, 0], [0.5, 0.03], [0.95, 0.03]] as const) {
  const free = await bringTo(soldShare, heldShare);
  out(`\n== ${soldShare * 100} % sold, ${heldShare * 100} % held: ${free} floor units free ==`);
  out('variant pair load | pick buffers mean (min–max) index | recount buffers mean index' +
    ' | in hold_batch: pick; recount | claim HOT/updates, sale HOT/updates' +
    ' | zone counts: buffers index now; from unsold');
  for (let pair = 1; pair <= pairs; pair++) {
    for (const withIndex of [false, true]) {
      const s = await measure(withIndex, free);
      out(`${withIndex ? 'B' : 'A'} ${pair} ${load()} | ${mean(s.pick)} (${span(s.pick)}) ${
        [...s.pickIndex].join(',')} | ${mean(s.recount)} ${[...s.recountIndex].join(',')} | ${
        s.fnPick}; ${s.fnRecount} | ${s.claimHot}, ${s.saleHot} | ${s.counts}`);
    }
  }
}

const sizes = await q<{ name: string; kb: number }>(
  `SELECT c.relname AS name, (pg_relation_size(c.oid) / 1024)::int AS kb
     FROM pg_class c WHERE c.relname IN ('tickets_zone_idx', 'tickets_unsold_zone_idx',
                                         'tickets_unsold_idx')
    ORDER BY 1`);
out(`\nindex sizes at 95 % sold (never vacuumed): ${
  sizes.map((s) => `${s.name} ${s.kb} kB`).join(', ')}`);

// Ticket creation: 110,000 rows of a second layout under this event (numbers past its own).
const insertSql = `
  INSERT INTO tickets (event_id, ticket_no, zone_key, section_key, section_position, row_label,
                       row_index, seat_number, seat_id)
  SELECT $1, 1000000 + n,
         CASE WHEN n > 100000 THEN 'floor' WHEN n > 50000 THEN 'upper' ELSE 'lower' END,
         CASE WHEN n > 100000 THEN 'FLOOR' ELSE 'X' || ((n - 1) / 2500) END,
         CASE WHEN n > 100000 THEN 40 ELSE (n - 1) / 2500 END,
         CASE WHEN n > 100000 THEN NULL ELSE (((n - 1) % 2500) / 100 + 1)::text END,
         CASE WHEN n > 100000 THEN NULL ELSE ((n - 1) % 2500) / 100 END,
         CASE WHEN n > 100000 THEN NULL ELSE (n - 1) % 100 + 1 END,
         CASE WHEN n > 100000 THEN NULL ELSE 'X-' || n END
    FROM generate_series(1, 110000) AS n`;
out('\n== ticket creation: 110,000 tickets in one INSERT, rolled back ==');
out('variant pair load | backend CPU ms | WAL MB | wall ms');
for (let pair = 1; pair <= pairs; pair++) {
  for (const withIndex of [false, true]) {
    await q('BEGIN');
    try {
      if (!withIndex) await q('DROP INDEX tickets_unsold_zone_idx');
      const [lsn] = await q<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l');
      const cpu0 = cpuMs();
      const t0 = performance.now();
      await q(insertSql, [eventId]);
      const wallMs = performance.now() - t0;
      const cpu = cpuMs() - cpu0;
      const [wal] = await q<{ b: string }>(
        'SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::text AS b',
        [lsn?.l]);
      out(`${withIndex ? 'B' : 'A'} ${pair} ${load()} | ${cpu.toFixed(0)} | ${
        (Number(wal?.b) / 1e6).toFixed(1)} | ${wallMs.toFixed(0)}`);
    } finally {
      await q('ROLLBACK');
    }
  }
}
await client.end();
await db.close();
