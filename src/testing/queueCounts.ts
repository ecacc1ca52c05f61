/**
 * Test seams for the line's kept counts (migration 046, queue/counts.ts): a negative control
 * needs a write whose counts are not kept, or an admission without the lock that orders it
 * with a leave. Production never runs either.
 */
import type { Db, Queryable } from '../storage/index.js';

/**
 * `db` whose transactions fire no triggers (session_replication_role = replica): a command
 * run through it changes its rows and skips their counts, a missed counter update.
 */
export function withoutKeptCounts(db: Db): Db {
  const quiet = async (tx: Queryable): Promise<void> => {
    await tx.query("SET LOCAL session_replication_role = 'replica'");
  };
  return {
    ...db,
    // A statement sent alone (a batch function call) runs in a transaction of its own.
    query: (sql, params) => db.tx(async (tx) => {
      await quiet(tx);
      return await tx.query(sql, params);
    }),
    tx: (work, options) => db.tx(async (tx) => {
      await quiet(tx);
      return await work(tx);
    }, options),
  };
}

/** In the caller's transaction: admissions skip the share lock on their fans' entries. */
export async function unguardAdmissionLock(tx: Queryable): Promise<void> {
  await tx.query("SET LOCAL stampede.queue_counts_unguarded = 'lock'");
}
