/**
 * Table maintenance for the embedded database. PGlite runs PostgreSQL in single-user mode,
 * which has no autovacuum: without this duty no table is ever analyzed or vacuumed. The
 * cost is not only bloat. The hot statements (the hold batch function plans once per
 * connection with `force_generic_plan`) are planned from statistics, and with none, or
 * with the ones from before a sale, the planner picks plans that read every ticket of the
 * event per batch, or every claimed ticket per request, so a hold gets slower as the sale
 * goes on. ANALYZE refreshes the statistics and invalidates those cached plans.
 *
 * The thresholds are autovacuum's defaults (a table is analyzed after 50 + 10 % of its rows
 * changed, vacuumed after 50 + 20 % of them died). Each statement runs on the one
 * connection and, being WebAssembly, on the event loop: the node pauses while it runs, so
 * one pass does at most one VACUUM, and passes are seconds apart. PostgreSQL servers run
 * autovacuum themselves; this duty is for PGlite only.
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

/**
 * One pass: ANALYZE every table whose changes since its last analysis pass the threshold,
 * and VACUUM the one table with the most dead rows past its threshold (at most one).
 */
export async function maintainTables(db: Queryable): Promise<MaintenancePass> {
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
  const vacuum = rows
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
 * Runs `maintainTables` every `everyMs` on an embedded database (a no-op on PostgreSQL,
 * which has autovacuum). A slow pass is not stacked on. Returns the stop function.
 */
export function startEmbeddedMaintenance(
  db: Db, logger: Logger, everyMs: number = limits.embeddedMaintenanceMs,
): () => Promise<void> {
  if (db.kind !== 'pglite') return async () => {};
  let running: Promise<void> = Promise.resolve();
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    running = maintainTables(db)
      .then((pass) => {
        if (pass.analyzed.length > 0 || pass.vacuumed.length > 0) {
          logger.debug(pass, 'embedded table maintenance');
        }
      })
      .catch((error: unknown) => logger.warn({ err: error }, 'embedded table maintenance failed'))
      .finally(() => {
        busy = false;
      });
  }, everyMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
