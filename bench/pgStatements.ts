/**
 * Where the rehearsal's PostgreSQL time goes, statement by statement: when the server loads
 * `pg_stat_statements` (`shared_preload_libraries`; the shared test server does not), the
 * rehearsal resets its counters as the simulation starts and, at the end, writes every
 * top-level statement's calls, time and buffers, and the same summed by what the statement
 * is for (checkout, hold batch, the line's join, the admission tick, figures, maintenance...).
 *
 * Times are wall time inside PostgreSQL: on a saturated box they include the wait for a
 * core, so read them as shares of the run; buffers and calls do not depend on the load. With
 * `pg_stat_statements.track = all` the statements inside the plpgsql functions are listed
 * too (not counted in the groups, which sum top-level statements only).
 */
import type { Queryable } from '../src/storage/db.js';

/** One statement's counters over the run. */
export interface StatementRow {
  toplevel: boolean;
  calls: number;
  totalMs: number;
  rows: number;
  sharedHit: number;
  sharedRead: number;
  walBytes: number;
  /** Time spent compiling the statement's plans with JIT (PostgreSQL 15's jit_* columns). */
  jitMs: number;
  query: string;
}

/** What a top-level statement is for, by a pattern over its normalized text. */
const groups: readonly (readonly [string, RegExp])[] = [
  ['checkout and payments', new RegExp('settle_batch|checkout_begin_batch|INSERT INTO ' +
    'provider_events|UPDATE idempotency_keys|WITH input AS|SELECT o\\.order_id, o\\.event_id')],
  ['hold batch', /hold_batch\(/],
  ['zone view read', /SELECT section_position, row_index/],
  ['queue join', /queue_join_batch|SELECT customer_id, token_version FROM customers/],
  ['admission tick', /queue_tick_begin|queue_tick_apply/],
  ['waitlist herd', /waitlist_move_batch/],
  ['metrics scrape', /^SELECT json_build_object\(\s*\$1, coalesce\(\(SELECT json_agg\(l\)/],
  ['dashboard', new RegExp('WITH since AS|SELECT event_id, zone_key, count\\(\\*\\) FILTER|' +
    'SELECT \\(SELECT count\\(\\*\\) FROM holds WHERE event_id')],
  ['table maintenance', /^(ANALYZE|VACUUM)/],
];

/** The group a top-level statement belongs to ('other' when none matches). */
export function statementGroup(query: string): string {
  const text = query.replace(/\s+/g, ' ').trim();
  return groups.find(([, pattern]) => pattern.test(text))?.[0] ?? 'other';
}

/** Per group: calls, time and buffers (hit + read) of its top-level statements. */
export interface GroupFigures {
  group: string;
  calls: number;
  totalMs: number;
  share: number;
  buffers: number;
}

/** Sums the top-level statements by group, largest time first. */
export function byGroup(rows: readonly StatementRow[]): GroupFigures[] {
  const top = rows.filter((row) => row.toplevel);
  const totalMs = top.reduce((sum, row) => sum + row.totalMs, 0);
  const sums = new Map<string, GroupFigures>();
  for (const row of top) {
    const group = statementGroup(row.query);
    const entry = sums.get(group) ?? { group, calls: 0, totalMs: 0, share: 0, buffers: 0 };
    entry.calls += row.calls;
    entry.totalMs += row.totalMs;
    entry.buffers += row.sharedHit + row.sharedRead;
    sums.set(group, entry);
  }
  return [...sums.values()]
    .map((entry) => ({ ...entry, share: totalMs > 0 ? entry.totalMs / totalMs : 0 }))
    .sort((a, b) => b.totalMs - a.totalMs);
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');

/** The text written beside the report: the groups, then the statements by time. */
export function statementsText(rows: readonly StatementRow[], topStatements = 60): string {
  const lines = ['Top-level statements by group (pg_stat_statements, the whole run; time is ' +
    'wall time inside PostgreSQL)', ''];
  const jit = rows.filter((row) => row.jitMs > 0);
  lines.push(`JIT compile: ${(jit.reduce((sum, row) => sum + row.jitMs, 0) / 1000).toFixed(1)} s` +
    ` in ${jit.length} statements (the nodes turn JIT off on their connections)`, '');
  lines.push('group                      calls      time s   share   buffers/call');
  for (const g of byGroup(rows)) {
    lines.push(`${g.group.padEnd(24)} ${int(g.calls).padStart(9)} ` +
      `${(g.totalMs / 1000).toFixed(1).padStart(10)} ${(100 * g.share).toFixed(1).padStart(6)} %` +
      ` ${int(g.buffers / Math.max(1, g.calls)).padStart(12)}`);
  }
  lines.push('', 'Statements by time (t: top level, f: inside a function)', '');
  lines.push('   calls      ms/call   buffers/call  statement');
  const sorted = [...rows].sort((a, b) => b.totalMs - a.totalMs).slice(0, topStatements);
  for (const row of sorted) {
    const calls = Math.max(1, row.calls);
    lines.push(`${row.toplevel ? 't' : 'f'} ${int(row.calls).padStart(8)} ` +
      `${(row.totalMs / calls).toFixed(3).padStart(10)} ` +
      `${int((row.sharedHit + row.sharedRead) / calls).padStart(12)}  ` +
      row.query.replace(/\s+/g, ' ').slice(0, 160));
  }
  return `${lines.join('\n')}\n`;
}

/** The counters of one server, when it loads pg_stat_statements. */
export interface PgStatements {
  reset(): Promise<void>;
  read(): Promise<StatementRow[]>;
}

/**
 * The server's pg_stat_statements through `db` (its extension created in that database), or
 * undefined when the server does not load the library.
 */
export async function pgStatements(db: Queryable): Promise<PgStatements | undefined> {
  try {
    await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await db.query('SELECT 1 FROM pg_stat_statements LIMIT 1');
  } catch {
    return undefined;
  }
  // The jit_* columns came with the extension's 1.10 (PostgreSQL 15); a database whose
  // extension was not updated lacks them, and the report must not be lost over it.
  const jitColumns = (await db.query(
    `SELECT 1 FROM pg_attribute WHERE attrelid = 'pg_stat_statements'::regclass
        AND attname = 'jit_emission_time'`)).rows.length > 0;
  const jitSql = jitColumns
    ? 'jit_generation_time + jit_inlining_time + jit_optimization_time + jit_emission_time'
    : '0';
  return {
    async reset() {
      await db.query('SELECT pg_stat_statements_reset()');
    },
    async read() {
      const { rows } = await db.query<{
        toplevel: boolean; calls: string; total_ms: number; rows: string; hit: string;
        read: string; wal: string; jit_ms: number; query: string;
      }>(
        `SELECT toplevel, calls, total_exec_time AS total_ms, rows, shared_blks_hit AS hit,
                shared_blks_read AS read, wal_bytes AS wal, ${jitSql} AS jit_ms, query
           FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 2000`);
      return rows.map((row) => ({
        toplevel: row.toplevel, calls: Number(row.calls), totalMs: Number(row.total_ms),
        rows: Number(row.rows), sharedHit: Number(row.hit), sharedRead: Number(row.read),
        walBytes: Number(row.wal), jitMs: Number(row.jit_ms), query: row.query,
      }));
    },
  };
}
