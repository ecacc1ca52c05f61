/**
 * Waits on a condition, not on time: until a session of this database whose statement
 * contains `statement` is blocked on a lock. Race tests use it to know a rival transaction
 * has reached the row another one holds. The deadline only turns a race that never forms
 * into a clear failure.
 */
import type { Db } from '../storage/index.js';

/**
 * Resolves once `sessions` statements containing `statement` wait for a lock at once (one
 * by default); rejects after 20 s.
 */
export async function waitForLockWait(
  db: Db, statement: string, what: string, sessions = 1,
): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock'
          AND position($1 in query) > 0`, [statement]);
    if ((rows[0]?.n ?? 0) >= sessions) return;
    if (Date.now() > deadline) throw new Error(`${what} never waited for the lock`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
