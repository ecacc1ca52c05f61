/**
 * Table maintenance where nothing else does it. PGlite runs PostgreSQL in single-user mode,
 * which has no autovacuum: without this duty no table is ever analyzed or vacuumed. A
 * PostgreSQL server whose `autovacuum` is off is in the same place for statistics. The
 * cost is not only bloat. The hot statements (the hold batch function plans once per
 * connection with `force_generic_plan`) are planned from statistics, and with none, or
 * with the ones from before a sale, the planner picks plans that read every ticket of the
 * event per batch, or every claimed ticket per request, so a hold gets slower as the sale
 * goes on. The admission tick is hit hardest: measured on PostgreSQL with autovacuum off,
 * in a 1,000,000-fan rehearsal, its belt-and-braces slot release joined 3,000 live slots
 * to every confirmed order of the event (12.9 million rows compared, 15.4 s per tick, the
 * line's lock held throughout) because `orders` and `queue_admissions` had never been
 * analyzed; 5.9 ms once they were. ANALYZE refreshes the statistics and invalidates those
 * cached plans.
 *
 * The thresholds are autovacuum's defaults (a table is analyzed after 50 + 10 % of its rows
 * changed, vacuumed after 50 + 20 % of them died). On PGlite each statement runs on the one
 * connection and, being WebAssembly, on the event loop: the node pauses while it runs, so
 * one pass does at most one VACUUM, and passes are seconds apart. On a PostgreSQL server
 * with autovacuum off the duty only analyzes (vacuuming is the operator's choice there, and
 * a warning says so), one node at a time: a pass runs under a transaction-scoped advisory
 * lock and a node that finds it taken skips the pass. With autovacuum on, the duty does
 * nothing.
 */
import type { Logger } from 'pino';
import { limits } from '../config/limits.js';
import type { Db, Queryable } from './db.js';

interface TableStats {
  relname: string;
  reltuples: number;
  n_dead_tup: number;
  n_mod_since_analyze: number;
}

export interface MaintenancePass {
  analyzed: string[];
  vacuumed: string[];
}

/** Quotes an identifier read from the catalog (table names are ours, but never trusted). */
function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Advisory lock key of a pass on a PostgreSQL server: one node's pass at a time. */
export const maintenancePassLockKey = 0x7374_616d_7000; // "stamp", kept clear of hashtextextended keys' range

/** What a pass may do: PGlite vacuums as well; a PostgreSQL server is only analyzed. */
export interface PassOptions {
  vacuum: boolean;
}

/**
 * One pass: ANALYZE every table whose changes since its last analysis pass the threshold,
 * and (with `vacuum`) VACUUM the one table with the most dead rows past its threshold (at
 * most one).
 */
export async function maintainTables(
  db: Queryable, options: PassOptions = { vacuum: true },
): Promise<MaintenancePass> {
  const { rows } = await db.query<TableStats>(
    `SELECT s.relname, greatest(c.reltuples, 0)::float8 AS reltuples,
            s.n_dead_tup::float8 AS n_dead_tup,
            s.n_mod_since_analyze::float8 AS n_mod_since_analyze
       FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
      WHERE s.schemaname = 'public'`);
  const threshold = (base: number, scale: number, table: TableStats): number =>
    base + scale * table.reltuples;
  const analyze = rows.filter((t) => t.n_mod_since_analyze > threshold(
    limits.embeddedAnalyzeBaseRows, limits.embeddedAnalyzeScale, t));
  const vacuum = !options.vacuum ? undefined : rows
    .filter((t) => t.n_dead_tup > threshold(
      limits.embeddedVacuumBaseRows, limits.embeddedVacuumScale, t))
    .sort((a, b) => b.n_dead_tup - a.n_dead_tup)[0];
  const pass: MaintenancePass = { analyzed: [], vacuumed: [] };
  if (vacuum !== undefined) {
    // VACUUM (ANALYZE) also analyzes: the table is not analyzed a second time below.
    await db.query(`VACUUM (ANALYZE) ${ident(vacuum.relname)}`);
    pass.vacuumed.push(vacuum.relname);
    pass.analyzed.push(vacuum.relname);
  }
  for (const table of analyze) {
    if (table.relname === vacuum?.relname) continue;
    await db.query(`ANALYZE ${ident(table.relname)}`);
    pass.analyzed.push(table.relname);
  }
  return pass;
}

/**
 * After a bulk load (an event's tickets), analyzes the tables at once instead of waiting for
 * the next pass (PGlite's duty, PostgreSQL's autovacuum): a sale may open seconds after its
 * event is created (the simulator does), and until then the planner believes the new event
 * has no tickets. The hot statements plan once per connection (`force_generic_plan`), so the
 * plan made without statistics stays until the table is analyzed. Measured: on PGlite 550 ms
 * for one seat of a 52,500-ticket event, against under 1 ms after ANALYZE; on PostgreSQL
 * (autovacuum off, or within its naptime) checkout_begin and the settle batch read every
 * unsold ticket of a 20,000-ticket event, 4.6 and 6.1 ms of backend CPU per checkout
 * against 0.8 and 1.9 ms once analyzed. ANALYZE samples a bounded number of rows, so its
 * cost does not grow with the table.
 */
export async function analyzeAfterLoad(db: Db, tables: readonly string[]): Promise<void> {
  for (const table of tables) await db.query(`ANALYZE ${ident(table)}`);
}

/**
 * One pass on a PostgreSQL server (analyze only), unless another node's pass holds the
 * lock: then nothing, at once. ANALYZE may run inside a transaction (VACUUM may not).
 */
export async function maintainServerTables(db: Db): Promise<MaintenancePass> {
  return await db.tx(async (tx) => {
    const { rows } = await tx.query<{ got: boolean }>(
      'SELECT pg_try_advisory_xact_lock($1) AS got', [maintenancePassLockKey]);
    if (rows[0]?.got !== true) return { analyzed: [], vacuumed: [] };
    return await maintainTables(tx, { vacuum: false });
  });
}

/** Whether a PostgreSQL server leaves tables unanalyzed (autovacuum, or its counts, off). */
export async function autovacuumOff(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ autovacuum: string; counts: string }>(
    `SELECT current_setting('autovacuum') AS autovacuum,
            current_setting('track_counts') AS counts`);
  return rows[0]?.autovacuum !== 'on' || rows[0]?.counts !== 'on';
}

/**
 * Runs a maintenance pass every `everyMs` where nothing else maintains the tables: always
 * on an embedded database, on PostgreSQL only when its autovacuum is off (analyze only,
 * with a warning). A slow pass is not stacked on. Returns the stop function.
 */
export function startTableMaintenance(
  db: Db, logger: Logger, everyMs: number = limits.embeddedMaintenanceMs,
): () => Promise<void> {
  let running: Promise<void> = Promise.resolve();
  let busy = false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const pass = (): Promise<MaintenancePass> =>
    db.kind === 'pglite' ? maintainTables(db) : maintainServerTables(db);
  const tick = (): void => {
    if (busy) return;
    busy = true;
    running = pass()
      .then((done) => {
        if (done.analyzed.length > 0 || done.vacuumed.length > 0) {
          logger.debug(done, 'table maintenance');
        }
      })
      .catch((error: unknown) => logger.warn({ err: error }, 'table maintenance failed'))
      .finally(() => {
        busy = false;
      });
  };
  const start = (): void => {
    if (stopped) return;
    timer = setInterval(tick, everyMs);
    timer.unref();
  };
  if (db.kind === 'pglite') {
    start();
  } else {
    running = autovacuumOff(db).then((off) => {
      if (!off) return;
      logger.warn('PostgreSQL autovacuum is off: this node analyzes the tables itself so that '
        + 'plans follow the sale, but nothing vacuums them; turn autovacuum on');
      start();
    }, (error: unknown) => logger.warn({ err: error }, 'table maintenance check failed'));
  }
  return async () => {
    stopped = true;
    if (timer !== undefined) clearInterval(timer);
    await running;
  };
}
