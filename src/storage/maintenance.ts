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
 * changed, vacuumed after 50 + 20 % of them died), and like autovacuum (naptime 60 s) the
 * duty maintains one table at most once a minute (limits.maintenanceTableMinSeconds), read
 * from the database's own last_analyze / last_vacuum so every node agrees. Without that,
 * tables the product churns passed the threshold on every 5 s pass while their live rows
 * stayed few: in a 1,000,000-fan rehearsal on PostgreSQL with autovacuum off, ANALYZE was
 * about 8 % of all top-level statement time (`outbox_events` 58 times in 4.5 minutes, reading
 * ~4,000 blocks each as its dead rows piled up). The exception is growth: a table whose live
 * rows more than doubled since its last analysis is analyzed on the next pass, so the plans
 * of a sale that starts on empty tables (above) still follow it within seconds.
 *
 * On PGlite each statement runs on the one connection and, being WebAssembly, on the event
 * loop: the node pauses while it runs, so one pass does at most one VACUUM, and passes are
 * seconds apart. On a PostgreSQL server with autovacuum off the duty analyzes, and vacuums
 * only the tables whose dead rows outnumber their live ones (the churn tables: without it
 * the outbox, deleted from every second, grows without bound and every relay round reads
 * its dead rows), one such table per pass; the others stay the operator's (a warning says
 * so). Passes run on one node at a time: the analyses under a transaction-scoped advisory
 * lock (a node that finds it taken skips the pass), the vacuum after it with SKIP_LOCKED
 * (VACUUM cannot run in a transaction; a vacuum of the table already running is skipped,
 * not waited for). With autovacuum on, the duty does nothing.
 */
import type { Logger } from 'pino';
import { limits } from '../config/limits.js';
import type { Db, Queryable } from './db.js';

/** A table's figures from pg_stat_user_tables; `null` ages: never analyzed / vacuumed. */
export interface TableStats {
  relname: string;
  /** Rows at the last analysis or vacuum (pg_class.reltuples; 0 when never sized). */
  reltuples: number;
  n_live_tup: number;
  n_dead_tup: number;
  n_mod_since_analyze: number;
  analyzedAgoSeconds: number | null;
  vacuumedAgoSeconds: number | null;
}

/** What a pass did: the tables it analyzed and vacuumed. */
export interface MaintenancePass {
  analyzed: string[];
  vacuumed: string[];
}

/** Quotes an identifier read from the catalog (table names are ours, but never trusted). */
function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Advisory lock key of a pass on a PostgreSQL server: one node's pass at a time ("stamp",
 * kept clear of hashtextextended keys' range).
 */
export const maintenancePassLockKey = 0x7374_616d_7000;

/**
 * What a pass may do. `vacuum`: 'any' table past its threshold (PGlite: nothing else
 * vacuums), only 'churn' tables (dead rows outnumber live ones: a server with autovacuum
 * off), or 'none'. `minSeconds`: shortest time between two analyses, or two vacuums, of one
 * table (0 analyzes whenever the threshold is passed, as before the interval existed).
 */
export interface PassOptions {
  vacuum: 'any' | 'churn' | 'none';
  minSeconds: number;
}

/** PGlite's pass: nothing else maintains its tables. */
export const embeddedPass: Readonly<PassOptions> = Object.freeze({
  vacuum: 'any', minSeconds: limits.maintenanceTableMinSeconds,
});

/** A PostgreSQL server's pass when its autovacuum is off. */
export const serverPass: Readonly<PassOptions> = Object.freeze({
  vacuum: 'churn', minSeconds: limits.maintenanceTableMinSeconds,
});

/** What one pass will do: the tables to analyze and at most one to vacuum. */
export interface PassPlan {
  analyze: string[];
  vacuum: string | undefined;
}

const threshold = (base: number, scale: number, table: TableStats): number =>
  base + scale * table.reltuples;

/** Whether `ago` (seconds, null for never) is at least `minSeconds`. */
const rested = (ago: number | null, minSeconds: number): boolean =>
  ago === null || ago >= minSeconds;

/**
 * Decides a pass from the tables' figures (pure, so the cadence is tested without a clock).
 * A table is analyzed once its changes pass autovacuum's threshold and either its last
 * analysis is `minSeconds` old or its live rows grew past the growth factor since then; the
 * table with the most dead rows past its threshold, not vacuumed for `minSeconds`, is
 * vacuumed (with 'churn', only if its dead rows outnumber its live ones).
 */
export function planPass(tables: readonly TableStats[], options: PassOptions): PassPlan {
  const grown = (t: TableStats): boolean => t.n_live_tup > threshold(
    limits.embeddedAnalyzeBaseRows, limits.maintenanceGrowthFactor, t);
  const analyze = tables.filter((t) => t.n_mod_since_analyze > threshold(
    limits.embeddedAnalyzeBaseRows, limits.embeddedAnalyzeScale, t)
    && (rested(t.analyzedAgoSeconds, options.minSeconds) || grown(t)));
  const vacuum = options.vacuum === 'none' ? undefined : tables
    .filter((t) => t.n_dead_tup > threshold(
      limits.embeddedVacuumBaseRows, limits.embeddedVacuumScale, t)
      && rested(t.vacuumedAgoSeconds, options.minSeconds)
      && (options.vacuum === 'any' || t.n_dead_tup > t.n_live_tup))
    .sort((a, b) => b.n_dead_tup - a.n_dead_tup)[0];
  return { analyze: analyze.map((t) => t.relname), vacuum: vacuum?.relname };
}

/** The public tables' figures, ages by the database's clock (every node reads the same). */
export async function tableStats(db: Queryable): Promise<TableStats[]> {
  const { rows } = await db.query<TableStats>(
    `SELECT s.relname, greatest(c.reltuples, 0)::float8 AS reltuples,
            s.n_live_tup::float8 AS n_live_tup, s.n_dead_tup::float8 AS n_dead_tup,
            s.n_mod_since_analyze::float8 AS n_mod_since_analyze,
            extract(epoch FROM now() - greatest(s.last_analyze, s.last_autoanalyze))::float8
              AS "analyzedAgoSeconds",
            extract(epoch FROM now() - greatest(s.last_vacuum, s.last_autovacuum))::float8
              AS "vacuumedAgoSeconds"
       FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
      WHERE s.schemaname = 'public'`);
  return rows;
}

/**
 * One pass on one connection (PGlite's): VACUUM the planned table, with ANALYZE when it is
 * due for one too, then ANALYZE the other tables due.
 */
export async function maintainTables(
  db: Queryable, options: PassOptions = embeddedPass,
): Promise<MaintenancePass> {
  const plan = planPass(await tableStats(db), options);
  const pass: MaintenancePass = { analyzed: [], vacuumed: [] };
  if (plan.vacuum !== undefined) {
    const both = plan.analyze.includes(plan.vacuum);
    await db.query(`VACUUM ${both ? '(ANALYZE) ' : ''}${ident(plan.vacuum)}`);
    pass.vacuumed.push(plan.vacuum);
    if (both) pass.analyzed.push(plan.vacuum);
  }
  for (const table of plan.analyze) {
    if (table === plan.vacuum) continue;
    await db.query(`ANALYZE ${ident(table)}`);
    pass.analyzed.push(table);
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
 * One pass on a PostgreSQL server, unless another node's pass holds the lock: then nothing,
 * at once. ANALYZE runs inside the locked transaction; VACUUM may not, so the planned one
 * runs after the commit, with SKIP_LOCKED: another node's vacuum of the same table (planned
 * before this one's finished) is skipped rather than waited for.
 */
export async function maintainServerTables(
  db: Db, options: PassOptions = serverPass,
): Promise<MaintenancePass> {
  const pass: MaintenancePass = { analyzed: [], vacuumed: [] };
  const plan = await db.tx(async (tx) => {
    const { rows } = await tx.query<{ got: boolean }>(
      'SELECT pg_try_advisory_xact_lock($1) AS got', [maintenancePassLockKey]);
    if (rows[0]?.got !== true) return undefined;
    const planned = planPass(await tableStats(tx), options);
    for (const table of planned.analyze) await tx.query(`ANALYZE ${ident(table)}`);
    return planned;
  });
  if (plan === undefined) return pass;
  pass.analyzed.push(...plan.analyze);
  if (plan.vacuum !== undefined) {
    await db.query(`VACUUM (SKIP_LOCKED) ${ident(plan.vacuum)}`);
    pass.vacuumed.push(plan.vacuum);
  }
  return pass;
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
 * on an embedded database, on PostgreSQL only when its autovacuum is off (analyses, and
 * vacuums of the churn tables only, with a warning). A slow pass is not stacked on.
 * `options` replaces the backend's pass (embeddedPass, serverPass) for a measurement.
 * Returns the stop function.
 */
export function startTableMaintenance(
  db: Db, logger: Logger, everyMs: number = limits.embeddedMaintenanceMs,
  options?: PassOptions,
): () => Promise<void> {
  let running: Promise<void> = Promise.resolve();
  let busy = false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const pass = (): Promise<MaintenancePass> =>
    db.kind === 'pglite'
      ? maintainTables(db, options ?? embeddedPass)
      : maintainServerTables(db, options ?? serverPass);
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
        + 'plans follow the sale and vacuums the ones whose dead rows outnumber their live '
        + 'ones, but nothing vacuums the others; turn autovacuum on');
      start();
    }, (error: unknown) => logger.warn({ err: error }, 'table maintenance check failed'));
  }
  return async () => {
    stopped = true;
    if (timer !== undefined) clearInterval(timer);
    await running;
  };
}
