/**
 * Which hot-path statements keep a plan that reads the whole sale. One connection runs every
 * per-request and per-tick statement of an on-sale six times against an event with an empty
 * line, no holds, no orders and no outbox (so plpgsql's cached plans and the
 * force_generic_plan functions are planned on near-empty tables, as at the start of a sale
 * on a fresh database), then the event is filled to rehearsal scale with set-based INSERTs
 * from another connection (autovacuum off for the database's tables, so no ANALYZE
 * replans them mid-run), and the same connection runs each statement again with
 * auto_explain (ANALYZE, BUFFERS, nested statements) sending its plans as notices. Per call:
 * rows the scan nodes read (returned plus removed by a filter or recheck, times loops), the
 * shared buffers those scans touched, and the time at the client; the relation read most.
 * A statement is flagged when its rows per call at scale exceed 10× its rows when empty and
 * 2,000. A fresh connection then runs each statement once more (plans made on the full
 * tables, same stale statistics): the control that says whether the cached plan is to blame.
 *
 * `npx tsx bench/planAudit.ts [lineEntries=300000] [liveHolds=30000] [orders=20000]
 *   [--plans]` (--plans: the plans of statements reading over 1,000 rows a call)
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

import pg from 'pg';

import { loadEvent } from '../src/catalog/events.js';
import type { EventRecord } from '../src/catalog/events.js';
import { readSeatStates } from '../src/inventory/seatmap.js';
import { extendHold, getHold, releaseHold, createHold } from '../src/holds/holds.js';
import { sweepExpiredHolds } from '../src/holds/sweeper.js';
import {
  markPublished, prunePublished, stampOutbox, unpublishedRows,
} from '../src/outbox/relay.js';
import {
  claimAdmission, findAdmission, queueStats, readLineStatus, tickLine,
} from '../src/queue/admission.js';
import { leaveLine } from '../src/queue/leave.js';
import { findEntry, findLeftEntries, joinLine } from '../src/queue/line.js';
import { readMetricsSnapshot } from '../src/stats/metrics.js';
import { onSaleStats } from '../src/stats/onsale.js';
import { SeriesMemo, seriesSettleMs } from '../src/stats/series.js';
import type { Db, Queryable, QueryResult } from '../src/storage/db.js';
import { buildTestContext } from '../src/testing/context.js';
import { buildEvent, buildVenue, insertCustomerRows } from '../src/testing/factories.js';
import { testDatabaseUrl } from '../src/testing/services.js';
import { benchPostgres, insertFillerHolds } from './lib.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const lineEntries = Number(args[0] ?? 300_000);
const liveHolds = Number(args[1] ?? 30_000);
const confirmed = Number(args[2] ?? 20_000);
const showPlans = process.argv.includes('--plans');
const load = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');

const int8Oid = 20;
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === int8Oid && format !== 'binary') return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
};

/** A Db over one client, so every statement, and every cached plan, is this session's. */
function clientDb(client: pg.Client): Db {
  const q: Queryable = {
    async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
      const result = await client.query(sql, params);
      return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
    },
    async exec(sql: string): Promise<void> {
      await client.query(sql);
    },
  };
  return {
    kind: 'postgres', ...q,
    async tx<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
      await client.query('BEGIN');
      try {
        const value = await work(q);
        await client.query('COMMIT');
        return value;
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    },
    async ping(): Promise<void> {},
    async close(): Promise<void> { await client.end(); },
  };
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}
const scanTypes = new Set(['Seq Scan', 'Index Scan', 'Index Only Scan', 'Bitmap Heap Scan',
  'Tid Scan', 'Tid Range Scan', 'Sample Scan']);

interface Reads { rows: number; buffers: number; byRelation: Map<string, number> }

/** Rows read and buffers touched by the scan nodes of one plan (heap scans own their index). */
function scanReads(node: PlanNode, into: Reads): void {
  if (scanTypes.has(node['Node Type'])) {
    const loops = node['Actual Loops'] ?? 1;
    const rows = ((node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0)
      + (node['Rows Removed by Index Recheck'] ?? 0)) * loops;
    into.rows += rows;
    into.buffers += (node['Shared Hit Blocks'] ?? 0) + (node['Shared Read Blocks'] ?? 0);
    const relation = node['Relation Name'] ?? '?';
    into.byRelation.set(relation, (into.byRelation.get(relation) ?? 0) + rows);
    return;
  }
  for (const child of node.Plans ?? []) scanReads(child, into);
}

interface Session { db: Db; client: pg.Client; notices: string[]; pid: number }

/**
 * CPU ms (user + system) the session's backend has used so far, from /proc (the server runs
 * on this box; 0 when it does not): what a statement costs the database's cores, whatever
 * the other load does to its wall-clock time.
 */
function backendCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

async function openSession(database: string): Promise<Session> {
  const client = new pg.Client({ connectionString: database, types });
  await client.connect();
  const notices: string[] = [];
  client.on('notice', (msg) => { notices.push(msg.message ?? ''); });
  const { rows: [me] } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  await client.query("LOAD 'auto_explain'");
  await client.query(`SET auto_explain.log_min_duration = -1;
    SET auto_explain.log_analyze = on; SET auto_explain.log_buffers = on;
    SET auto_explain.log_timing = off; SET auto_explain.log_format = json;
    SET auto_explain.log_nested_statements = on;
    SET auto_explain.log_level = notice; SET client_min_messages = notice`);
  return { db: clientDb(client), client, notices, pid: (me as { pid: number }).pid };
}

async function explaining(session: Session, on: boolean): Promise<void> {
  await session.client.query(`SET auto_explain.log_min_duration = ${on ? 0 : -1}`);
}

interface Measured { calls: number; rows: number; buffers: number; ms: number; cpu: number;
  byRelation: Map<string, number>; plans: string[] }

async function measure(session: Session, run: () => Promise<unknown>): Promise<Measured> {
  session.notices.length = 0;
  const cpu0 = backendCpuMs(session.pid);
  const t0 = performance.now();
  await run();
  const ms = performance.now() - t0;
  const cpu = backendCpuMs(session.pid) - cpu0;
  const reads: Reads = { rows: 0, buffers: 0, byRelation: new Map() };
  const plans: string[] = [];
  for (const notice of session.notices) {
    const start = notice.indexOf('{');
    if (start < 0) continue;
    const parsed = JSON.parse(notice.slice(start)) as { Plan: PlanNode; 'Query Text': string };
    scanReads(parsed.Plan, reads);
    plans.push(notice);
  }
  return { calls: 1, rows: reads.rows, buffers: reads.buffers, ms, cpu,
    byRelation: reads.byRelation,
    plans };
}

// ---- the database, the event, the audited session
const pool = await benchPostgres(2);
const { rows: [named] } = await pool.query<{ d: string }>('SELECT current_database() AS d');
const url = new URL(testDatabaseUrl);
url.pathname = `/${(named as { d: string }).d}`;
// No ANALYZE while the run fills the tables: the statistics stay those of the empty sale.
const { rows: tables } = await pool.query<{ t: string }>(
  "SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public'");
for (const { t } of tables) {
  await pool.query(`ALTER TABLE ${t} SET (autovacuum_enabled = false)`);
}
const ctx = buildTestContext(pool);
const venue = await buildVenue(ctx, { rows: 40, seatsPerRow: 250, standing: 40_000 });
const details = await buildEvent(ctx, {
  venue, maxTicketsPerCustomer: 6, holdSeconds: 600,
  queue: { enabled: true, admitPerMinute: 600, maxActiveShoppers: 100_000 },
});
const eventId = details.eventId;
const event: EventRecord = await loadEvent(pool, eventId);
const audited = await openSession(url.toString());
const adb = audited.db;
const actx = buildTestContext(adb, { coord: ctx.coord });
const shoppers = await insertCustomerRows(pool, 200);
const waiting = Array.from({ length: 12 }, () => randomUUID());
await joinLine(pool, event, waiting, undefined);

// ---- the statements, each runnable again and again
// The memo as the HTTP route builds it (kept windows wait for the statement timeout too).
const newMemo = (): SeriesMemo =>
  new SeriesMemo(seriesSettleMs(actx.config.pg.statementTimeoutMs));
const memos = new Map<Session, SeriesMemo>();
const memoOf = (s: Session): SeriesMemo => {
  const memo = memos.get(s) ?? newMemo();
  memos.set(s, memo);
  return memo;
};
interface Statement { name: string; run: (s: Session) => Promise<unknown> }
let shopper = 0;
const openHolds: { customerId: string; holdId: string }[] = [];
let leavers: string[] = [...waiting];
let known: string[] = [...waiting];
const statements: Statement[] = [
  { name: 'queue tick (tickLine: queue_tick_begin, _apply, figures)', run: async (s) =>
    await tickLine(s.db, event, { token: 1, claimGraceSeconds: 5 }) },
  // The admission duty's ticks between release passes (release.ts, migration 071).
  { name: 'queue tick between releases (tickLine, releaseSlots: false)', run: async (s) =>
    await tickLine(s.db, event, { token: 1, claimGraceSeconds: 5, releaseSlots: false }) },
  { name: 'queue/me miss (findEntry, findAdmission, readLineStatus)', run: async (s) => {
    const customerId = known[Math.floor(Math.random() * known.length)] as string;
    await findEntry(s.db, eventId, customerId);
    await findAdmission(s.db, eventId, customerId);
    await readLineStatus(s.db, event, Date.now());
  } },
  { name: 'pass claim (claimAdmission)', run: async (s) =>
    await claimAdmission(s.db, eventId, known[0] as string) },
  { name: 'leave (leaveLine)', run: async (s) => {
    const customerId = leavers.pop();
    if (customerId !== undefined) await leaveLine(s.db, eventId, customerId, 'left');
  } },
  { name: 'hold (createHold: hold_batch)', run: async (s) => {
    const customerId = shoppers[shopper++ % shoppers.length] as string;
    const hold = await createHold(s.db, event, customerId, { zone: 'floor', quantity: 2 });
    openHolds.push({ customerId, holdId: hold.holdId });
  } },
  { name: 'GET hold (getHold)', run: async (s) => {
    const h = openHolds[openHolds.length - 1];
    if (h !== undefined) await getHold(s.db, h.customerId, h.holdId);
  } },
  { name: 'extend hold (extendHold)', run: async (s) => {
    const h = openHolds[openHolds.length - 1];
    if (h !== undefined) await extendHold(s.db, h.customerId, h.holdId);
  } },
  { name: 'release hold (releaseHold + offers)', run: async (s) => {
    const h = openHolds.pop();
    if (h !== undefined) await releaseHold(s.db, h.customerId, h.holdId);
  } },
  { name: 'sweeper (sweepExpiredHolds)', run: async (s) => await sweepExpiredHolds(s.db) },
  { name: 'relay stamp (stampOutbox)', run: async (s) => await stampOutbox(s.db, 1) },
  { name: 'relay read + mark (unpublishedRows, markPublished)', run: async (s) =>
    await markPublished(s.db, await unpublishedRows(s.db)) },
  { name: 'relay prune (prunePublished)', run: async (s) => await prunePublished(s.db) },
  { name: 'orders sink (findLeftEntries of 8)', run: async (s) =>
    await findLeftEntries(s.db, eventId, known.slice(0, 8)) },
  { name: 'seatmap snapshot (readSeatStates)', run: async (s) =>
    await readSeatStates(s.db, eventId) },
  { name: 'dashboard (onSaleStats)', run: async (s) =>
    await onSaleStats(s.db, actx.coord, actx.clock, eventId) },
  // As a node serves it: the series' settled windows kept (primed before each pass at scale).
  { name: 'dashboard, settled windows kept (onSaleStats + SeriesMemo)', run: async (s) =>
    await onSaleStats(s.db, actx.coord, actx.clock, eventId, memoOf(s)) },
  { name: 'queue stats (queueStats)', run: async (s) => await queueStats(s.db, eventId) },
  { name: 'metrics scrape (readMetricsSnapshot)', run: async (s) =>
    await readMetricsSnapshot({ db: s.db }) },
];

async function outboxRow(): Promise<void> {
  await pool.query(`INSERT INTO outbox_events (event_id, kind, payload)
    VALUES ($1, 'hold.created', '{}')`, [eventId]);
}

// ---- warm: six calls of each on the empty sale, plans cached
const empty = new Map<string, Measured>();
for (let i = 0; i < 7; i += 1) {
  await outboxRow();
  for (const statement of statements) {
    if (i === 6) {
      await explaining(audited, true);
      empty.set(statement.name, await measure(audited, () => statement.run(audited)));
      await explaining(audited, false);
    } else {
      await statement.run(audited);
    }
  }
}
console.log(`warmed on the empty sale; load ${load()}`);

// ---- fill to rehearsal scale from the other connection
const t0 = performance.now();
const fans = await pool.query<{ id: string }>(
  `INSERT INTO customers (customer_id, email, name, password_hash)
   SELECT gen_random_uuid(), 'audit-' || n || '@example.com', 'Audit Fan', 'none'
     FROM generate_series(1, $1::int) AS n RETURNING customer_id AS id`,
  [liveHolds + confirmed]);
const fanIds = fans.rows.map((r) => r.id);
const { rows: [top] } = await pool.query<{ n: number }>(
  'SELECT coalesce(max(number), 0) AS n FROM queue_entries WHERE event_id = $1', [eventId]);
const base = Number((top as { n: number }).n);
// The line: the fans who shop first, then strangers; every 20th stranger left 90 s ago.
await pool.query(
  `INSERT INTO queue_entries (event_id, customer_id, number, pre_queue, joined_at, left_at,
                              left_reason)
   SELECT $1, coalesce(($2::uuid[])[n], gen_random_uuid()), $3 + n, false, now(),
          CASE WHEN n > cardinality($2::uuid[]) AND n % 20 = 0
               THEN now() - interval '90 seconds' END,
          CASE WHEN n > cardinality($2::uuid[]) AND n % 20 = 0 THEN 'left' END
     FROM generate_series(1, $4::int) AS n`,
  [eventId, fanIds, base, lineEntries]);
// The first `liveHolds` were admitted, claimed their pass and hold now; the next bought.
await pool.query(
  `INSERT INTO queue_admissions (event_id, customer_id, number, pass_id, admitted_at,
                                 claim_by, expires_at, claimed_at, leader_token)
   SELECT $1, c, $2 + n, gen_random_uuid(), now() - interval '1 minute',
          now() + interval '1 hour', now() + interval '1 hour', now(), 1
     FROM unnest($3::uuid[]) WITH ORDINALITY AS x(c, n)`,
  [eventId, base, fanIds.slice(0, liveHolds)]);
// 200 more admitted fans idle since their claim ten minutes ago: the first tick at scale
// frees their slots (the release's UPDATE runs with rows to join).
await pool.query(
  `INSERT INTO queue_admissions (event_id, customer_id, number, pass_id, admitted_at,
                                 claim_by, expires_at, claimed_at, leader_token)
   SELECT $1, gen_random_uuid(), $2 + n, gen_random_uuid(), now() - interval '10 minutes',
          now() + interval '1 hour', now() + interval '1 hour', now() - interval '10 minutes', 1
     FROM generate_series(1, 200) AS n`, [eventId, base + lineEntries]);
await pool.query(
  'UPDATE queue_state SET served_up_to = $2 WHERE event_id = $1', [eventId, base + liveHolds]);
await insertFillerHolds(pool, eventId, fanIds.slice(0, liveHolds), fanIds.slice(liveHolds));
// Their tickets: two sold per order and two held per live hold, as far as the event has
// tickets (the figures by zone read the claimed tickets; a sale at scale has most sold).
await pool.query(
  `WITH o AS (SELECT order_id, row_number() OVER (ORDER BY order_id) AS n FROM orders
               WHERE event_id = $1 AND status = 'confirmed'),
        h AS (SELECT hold_id, claim_expires_at, row_number() OVER (ORDER BY hold_id) AS n
                FROM holds WHERE event_id = $1 AND state = 'held'),
        nsold AS (SELECT count(*) * 2 AS n FROM o)
   UPDATE tickets t
      SET order_id = o.order_id, hold_id = h.hold_id, hold_expires_at = h.claim_expires_at
     FROM (SELECT ticket_no, row_number() OVER (ORDER BY ticket_no) AS r
             FROM tickets WHERE event_id = $1 AND order_id IS NULL AND hold_id IS NULL) AS x
     CROSS JOIN nsold
     LEFT JOIN o ON x.r <= nsold.n AND o.n = (x.r + 1) / 2
     LEFT JOIN h ON x.r > nsold.n AND h.n = (x.r - nsold.n + 1) / 2
    WHERE t.event_id = $1 AND t.ticket_no = x.ticket_no
      AND (o.order_id IS NOT NULL OR h.hold_id IS NOT NULL)`,
  [eventId]);
// Spread over the sale as in a real one: the filler's holds placed ten minutes ago and the
// orders confirmed five, so the tick's windowed sets (holds created or ended within the
// idle window, confirmations since the earliest live admission) hold what they would.
await pool.query(
  `UPDATE holds SET created_at = now() - interval '10 minutes',
                    ended_at = CASE WHEN ended_at IS NOT NULL
                                    THEN now() - interval '5 minutes' END
    WHERE event_id = $1`, [eventId]);
await pool.query(
  `UPDATE orders SET confirmed_at = now() - interval '5 minutes' WHERE event_id = $1`,
  [eventId]);
await pool.query(
  `INSERT INTO outbox_events (event_id, kind, payload, created_at, published_at, version)
   SELECT $1, 'hold.created', '{}', now(), now(), -n FROM generate_series(1, $2::int) AS n`,
  [eventId, confirmed]);
console.log(`filled: ${lineEntries} entries, ${liveHolds} admitted with a live hold, ` +
  `${confirmed} confirmed orders, ${confirmed} published outbox rows in ` +
  `${((performance.now() - t0) / 1000).toFixed(1)} s; load ${load()}`);
known = [...fanIds.slice(0, 8), ...known];
leavers = fanIds.slice(liveHolds + confirmed - 64);

// ---- at scale: the cached plans, then a fresh session's
const rounds = 3;
async function atScale(session: Session): Promise<Map<string, Measured>> {
  const out = new Map<string, Measured>();
  // A new memo (the fill stamped rows into windows the warm-up kept) and its read of every
  // window, unmeasured: the calls measured are those in between.
  memos.set(session, newMemo());
  await onSaleStats(session.db, actx.coord, actx.clock, eventId, memoOf(session));
  await explaining(session, true);
  for (let i = 0; i < rounds; i += 1) {
    await outboxRow();
    for (const statement of statements) {
      const m = await measure(session, () => statement.run(session));
      const sum = out.get(statement.name);
      if (sum === undefined) { out.set(statement.name, m); continue; }
      sum.calls += 1; sum.rows += m.rows; sum.buffers += m.buffers; sum.ms += m.ms;
      sum.cpu += m.cpu;
      for (const [r, n] of m.byRelation) sum.byRelation.set(r, (sum.byRelation.get(r) ?? 0) + n);
    }
  }
  await explaining(session, false);
  return out;
}
const cached = await atScale(audited);
const second = await openSession(url.toString());
const fresh = await atScale(second);
await second.client.end();

const per = (m: Measured | undefined, k: 'rows' | 'buffers' | 'ms' | 'cpu'): number =>
  m === undefined ? 0 : m[k] / m.calls;
const most = (m: Measured | undefined): string => {
  const [name, rows] = [...(m?.byRelation ?? new Map<string, number>())]
    .sort((a, b) => b[1] - a[1])[0] ?? ['-', 0];
  return `${name} ${Math.round(rows / (m?.calls ?? 1))}`;
};
console.log(`\nscale: ${lineEntries} entries, ${liveHolds} live holds, ${confirmed} orders; ` +
  `load ${load()}`);
console.log('| statement | empty rows/buf | cached plan at scale rows/buf/ms | ' +
  'fresh plan at scale rows/buf/ms | backend CPU ms cached/fresh | most read (cached) | flag |');
console.log('|---|---|---|---|---|---|---|');
for (const { name } of statements) {
  const e = empty.get(name);
  const c = cached.get(name);
  const f = fresh.get(name);
  const grows = per(c, 'rows') > 2_000 && per(c, 'rows') > 10 * Math.max(1, per(e, 'rows'));
  console.log(`| ${name} | ${per(e, 'rows').toFixed(0)} / ${per(e, 'buffers').toFixed(0)} | ` +
    `${per(c, 'rows').toFixed(0)} / ${per(c, 'buffers').toFixed(0)} / ` +
    `${per(c, 'ms').toFixed(1)} | ${per(f, 'rows').toFixed(0)} / ` +
    `${per(f, 'buffers').toFixed(0)} / ${per(f, 'ms').toFixed(1)} | ` +
    `${per(c, 'cpu').toFixed(0)} / ${per(f, 'cpu').toFixed(0)} | ${most(c)} | ` +
    `${grows ? 'GROWS' : ''} |`);
  if (showPlans && per(c, 'rows') > 1_000) for (const plan of c?.plans ?? []) console.log(plan);
}
await audited.client.end();
await pool.close();
process.exit(0);
