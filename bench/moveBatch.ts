/**
 * The waitlist move batch alone (`waitlist_move_batch`, src/queue/handover.ts), without HTTP:
 * `fans` customers stand in a closed line (block of waitlist places reserved) with `ahead`
 * fans already waiting, and they move in batches of `batch` (the group commit's size), one
 * batch in flight as one node runs them, in a scrambled order. Reports moves/s and the mean
 * batch time, and checks the result (every fan on the waitlist once, in line order).
 *
 * `npx tsx bench/moveBatch.ts [fans] [batch] [ahead] [--explain] [--stale] [--statements]
 * [--051]`
 * (default 10,000 fans, batches of 200, 100,000 ahead); `--explain` prints EXPLAIN (ANALYZE,
 * BUFFERS) of every statement inside the run's last batch (auto_explain, nested statements);
 * `--stale` leaves the statistics as gathered on the empty tables (autovacuum off on them),
 * as at the start of a sale on a fresh database, instead of analyzing after the load;
 * `--statements`, on a server that loads pg_stat_statements (track = all), prints the moves'
 * statements (the batch and each statement inside it) per moved fan: buffers, WAL bytes and
 * time; `--051` runs the function as migration 051 defined it (before 073), for an A/B in one
 * build. Also printed: rows read by sequential scan and index entries read, per move, over the
 * whole run.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import pg from 'pg';

import { loadEvent } from '../src/catalog/events.js';
import { limits } from '../src/config/limits.js';
import { moveBatch } from '../src/queue/handover.js';
import { joinLine } from '../src/queue/line.js';
import { reserveWaitlistBase } from '../src/queue/waitblock.js';
import type { Db } from '../src/storage/index.js';
import { analyzeAfterLoad } from '../src/storage/maintenance.js';
import { buildTestContext } from '../src/testing/context.js';
import { buildEvent, insertCustomerRows } from '../src/testing/factories.js';
import { benchPostgres, fmt } from './lib.js';
import { pgStatements, type StatementRow } from './pgStatements.js';

/** One run; returns moves per second. */
export async function moveBatches(
  fans: number, batch: number, ahead: number, explain = false, stale = false,
  statements = false, before073 = false,
): Promise<{ movesPerSec: number; batchMsMean: number; notes: string }> {
  const db = await benchPostgres(4);
  try {
    if (before073) await db.exec(function051());
    const ctx = buildTestContext(db);
    if (stale) {
      // Statistics as at the start of a sale: gathered on empty tables, never again.
      await db.query('VACUUM ANALYZE');
      for (const table of staleTables) {
        await db.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
      }
    }
    const details = await buildEvent(ctx, {
      queue: { enabled: true, admitPerMinute: 1_000, maxActiveShoppers: 1_000 },
    });
    const eventId = details.eventId;
    const customers = await insertCustomerRows(db, fans);
    const event = await loadEvent(db, eventId);
    for (let i = 0; i < customers.length; i += limits.queueJoinBatch) {
      await joinLine(db, event, customers.slice(i, i + limits.queueJoinBatch), undefined);
    }
    await db.tx((tx) => reserveWaitlistBase(tx, eventId));
    // In chunks: one statement of 500,000 rows outlasts the pool's statement timeout on a
    // loaded box.
    for (let done = 0; done < ahead; done += aheadChunk) {
      const early = await insertCustomerRows(db, Math.min(aheadChunk, ahead - done));
      await db.query(
        `INSERT INTO waitlist_entries (event_id, customer_id, quantity, status, seq)
         SELECT $1, c, 1, 'waiting', $3::bigint + i
           FROM unnest($2::uuid[]) WITH ORDINALITY AS x(c, i)`,
        [eventId, early, done],
      );
    }
    if (!stale) {
      await analyzeAfterLoad(db, ['queue_entries', 'customers', 'waitlist_entries',
        'waitlist_counts']);
    }
    const counters = statements ? await pgStatements(db) : undefined;
    if (statements && counters === undefined) {
      throw new Error('--statements needs a server that loads pg_stat_statements');
    }
    await counters?.reset();
    const readsBefore = await tableReads(db);
    const cpuBefore = counters === undefined ? undefined : await serverCpuMs(db);
    const order = customers.map((c, i) => ({ c, k: (i * 7_919) % fans }))
      .sort((a, b) => a.k - b.k).map(({ c }) => c);
    const times: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < order.length; i += batch) {
      const places = order.slice(i, i + batch).map((customerId) => ({ customerId, quantity: 2 }));
      // The last batch: what a batch costs late in the herd.
      const middle = explain && i + batch >= order.length;
      const t = performance.now();
      const outcomes = middle
        ? await explained(db, (tx) => moveBatch(tx, event, places))
        : await moveBatch(db, event, places);
      times.push(performance.now() - t);
      for (const [customer, moved] of outcomes) {
        if (moved instanceof Error) throw new Error(`${customer}: ${moved.message}`);
      }
    }
    const wallMs = performance.now() - t0;
    const cpuAfter = counters === undefined ? undefined : await serverCpuMs(db);
    if (cpuBefore !== undefined && cpuAfter !== undefined) {
      process.stdout.write(`server CPU per move (every process of the server): ${
        fmt((cpuAfter - cpuBefore) * 1000 / fans, 0)} µs\n`);
    }
    if (counters !== undefined) {
      process.stdout.write(perMoveStatements(await counters.read(), fans));
    }
    const readsAfter = await tableReads(db);
    const perMove = [...readsAfter].map(([name, n]) => [name, (n - (readsBefore.get(name) ?? 0))
      / fans] as const).filter(([, n]) => n >= 5).sort((x, y) => y[1] - x[1]);
    process.stdout.write(`read per move (rows by sequential scan, index entries): ${
      perMove.map(([name, n]) => `${name} ${fmt(n, 1)}`).join(', ')}\n`);
    const { rows: [check] } = await db.query<{ n: number; ordered: boolean }>(
      `SELECT count(DISTINCT w.customer_id)::int AS n,
              bool_and(w.prev IS NULL OR w.prev < w.number) AS ordered
         FROM (SELECT w2.customer_id, q.number,
                      lag(q.number) OVER (ORDER BY w2.seq) AS prev
                 FROM waitlist_entries w2 JOIN queue_entries q USING (event_id, customer_id)
                WHERE w2.event_id = $1) w`, [eventId]);
    if (check?.n !== fans || check.ordered !== true) {
      throw new Error(`moved ${check?.n} of ${fans}, line order kept: ${check?.ordered}`);
    }
    const batchMsMean = times.reduce((a, b) => a + b, 0) / times.length;
    return {
      movesPerSec: fans / (wallMs / 1000), batchMsMean,
      notes: `${times.length} batches of ${batch}, max ${fmt(Math.max(...times), 1)} ms, ` +
        `first tenth ${fmt(tenth(times.slice(0, Math.ceil(times.length / 10))), 1)} ms, ` +
        `last tenth ${fmt(tenth(times.slice(-Math.ceil(times.length / 10))), 1)} ms`,
    };
  } finally {
    await db.close();
  }
}

/**
 * CPU time used so far by every process of the server (postmaster and its children), when
 * it runs on this machine and its data directory is readable (a server of the run's own, as
 * `--statements` asks for; on a shared one it counts others' work too); else undefined.
 */
async function serverCpuMs(db: Db): Promise<number | undefined> {
  try {
    const { rows: [dir] } = await db.query<{ d: string }>(
      'SELECT current_setting(\'data_directory\') AS d');
    const postmaster = Number(readFileSync(`${dir?.d}/postmaster.pid`, 'utf8').split('\n')[0]);
    let ticks = 0;
    for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        // After "pid (comm) ": state, ppid, ... utime and stime are the 12th and 13th.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(pid) === postmaster || Number(fields[1]) === postmaster) {
          ticks += Number(fields[11]) + Number(fields[12]);
        }
      } catch {
        // The process ended meanwhile.
      }
    }
    return ticks * 10; // 100 ticks a second (getconf CLK_TCK)
  } catch {
    return undefined;
  }
}

/** Migration 051's definition of the function, as a CREATE OR REPLACE. */
function function051(): string {
  const text = readFileSync(new URL(
    '../src/storage/migrations/051_waitlist_move_order.sql', import.meta.url), 'utf8');
  return text.slice(text.indexOf('CREATE FUNCTION waitlist_move_batch'))
    .replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION');
}

const aheadChunk = 50_000;

const staleTables = ['queue_entries', 'customers', 'waitlist_entries', 'waitlist_counts',
  'holds', 'orders'];

/** Rows read by sequential scan per table (`seq:`) and entries read per index, so far. */
async function tableReads(db: Db): Promise<Map<string, number>> {
  await db.query('SELECT pg_stat_force_next_flush()');
  await db.query('SELECT 1');
  const { rows } = await db.query<{ name: string; n: string }>(
    `SELECT 'seq:' || relname AS name, seq_tup_read AS n FROM pg_stat_user_tables
     UNION ALL SELECT indexrelname, idx_tup_read FROM pg_stat_user_indexes`);
  return new Map(rows.map((r) => [r.name, Number(r.n)]));
}

const moveTables = new RegExp(['waitlist_move_batch', 'waitlist_counts', 'waitlist_entries',
  'queue_entries', 'queue_admissions', 'queue_counts', 'pg_advisory_xact_lock', 'holds',
  'orders', 'events', 'queue_state', 'customers'].join('|'));

/** The moves' statements per moved fan, the batch's own call first (it includes the rest). */
function perMoveStatements(rows: readonly StatementRow[], fans: number): string {
  const moves = rows.filter((row) => moveTables.test(row.query));
  const lines = ['statements per moved fan (pg_stat_statements; t: the call, f: inside it):',
    '   calls   ms/fan  buffers/fan  (read)  WAL B/fan  statement'];
  for (const row of [...moves].sort((a, b) => Number(b.toplevel) - Number(a.toplevel)
    || b.totalMs - a.totalMs).slice(0, 24)) {
    lines.push(`${row.toplevel ? 't' : 'f'} ${String(row.calls).padStart(7)} ` +
      `${(row.totalMs / fans).toFixed(3).padStart(8)} ` +
      `${((row.sharedHit + row.sharedRead) / fans).toFixed(1).padStart(12)} ` +
      `${(row.sharedRead / fans).toFixed(1).padStart(7)} ` +
      `${(row.walBytes / fans).toFixed(0).padStart(10)}  ` +
      row.query.replace(/\s+/g, ' ').slice(0, 110));
  }
  return `${lines.join('\n')}\n`;
}

function tenth(times: number[]): number {
  return times.reduce((a, b) => a + b, 0) / Math.max(1, times.length);
}

/**
 * Runs `work` in a transaction whose statements print their plans, nested ones included
 * (auto_explain with ANALYZE and BUFFERS), as notices to stdout.
 */
async function explained<T>(db: Db, work: (db: Db) => Promise<T>): Promise<T> {
  const proto = pg.Client.prototype as unknown as { query: (...rest: unknown[]) => unknown };
  const original = proto.query;
  const listening = new WeakSet<pg.Client>();
  proto.query = function query(this: pg.Client, ...rest: unknown[]): unknown {
    if (!listening.has(this)) {
      listening.add(this);
      this.on('notice', (notice) => process.stdout.write(`${notice.message}\n`));
    }
    return original.apply(this, rest);
  };
  try {
    return await db.tx(async (tx) => {
      await tx.exec('LOAD \'auto_explain\'; SET LOCAL auto_explain.log_min_duration = 0; ' +
        'SET LOCAL auto_explain.log_nested_statements = on; ' +
        'SET LOCAL auto_explain.log_analyze = on; SET LOCAL auto_explain.log_buffers = on; ' +
        'SET LOCAL auto_explain.log_level = \'notice\'');
      return await work({ ...db, query: tx.query.bind(tx), exec: tx.exec.bind(tx) });
    }, { maxAttempts: 1 });
  } finally {
    proto.query = original;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const fans = Number(args[0] ?? 10_000);
  const batch = Number(args[1] ?? 200);
  const ahead = Number(args[2] ?? 100_000);
  const r = await moveBatches(fans, batch, ahead, process.argv.includes('--explain'),
    process.argv.includes('--stale'), process.argv.includes('--statements'),
    process.argv.includes('--051'));
  process.stdout.write(`move batch: ${fans} fans, ${ahead} waiting ahead: ` +
    `${fmt(r.movesPerSec)} moves/s, batch mean ${fmt(r.batchMsMean, 1)} ms (${r.notes})\n`);
  process.exit(0);
}
