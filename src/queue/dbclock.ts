/**
 * The waiting room's time: the database clock. Every node compares stored queue timestamps
 * against PostgreSQL's clock, so nodes with skewed clocks agree on when a slot lapses (the
 * same rule the holds follow). A test that pins time with a manual clock passes `nowMs`,
 * which then stands in for the database clock (see pinnedNowMs() in core/clock.ts).
 */
import { assert } from '../core/errors.js';
import type { Queryable } from '../storage/index.js';

/**
 * SQL for "now" in a statement: the database clock, or a parameter (appended to `params`)
 * when a test pins time with `nowMs`.
 */
export function sqlNow(params: unknown[], nowMs: number | undefined): string {
  if (nowMs === undefined) return 'now()';
  params.push(new Date(nowMs));
  return `$${params.length}::timestamptz`;
}

/**
 * The database clock right now (clock_timestamp(), not the transaction's start), unless a
 * test pins time with `nowMs`.
 */
export async function databaseNowMs(db: Queryable, nowMs?: number): Promise<number> {
  if (nowMs !== undefined) return nowMs;
  const { rows } = await db.query<{ now: Date }>('SELECT clock_timestamp() AS now');
  const now = rows[0]?.now;
  assert(now instanceof Date, 'the database returns its clock');
  return now.getTime();
}

