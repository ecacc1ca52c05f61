/**
 * Reads that decide nothing (search, event pages, seat-map snapshots, organizer stats) may
 * come from a streaming standby (`DATABASE_READ_URL`), which takes that load off the
 * primary during an on-sale. A standby lags the primary by its replay delay (usually
 * milliseconds, seconds under heavy write load), so:
 *
 * - nothing that decides a ticket, a payment or an admission reads from it: holds,
 *   checkout, settlement, the queue and every worker use the primary (`ctx.db`);
 * - a read the standby answers "not found" (an event created a moment ago) is asked again
 *   of the primary, and so is one that fails (the standby down or restarting), so a lagging
 *   or broken replica costs a display read its freshness, never its answer.
 */
import { DomainError } from '../core/errors.js';
import type { Queryable } from './db.js';

/** Where display reads go, and the primary to fall back to. */
export interface ReadTargets {
  db: Queryable;
  readDb?: Queryable | undefined;
}

function retryOnPrimary(error: unknown): boolean {
  if (error instanceof DomainError) return error.code === 'not_found';
  // Anything else from the standby (connection refused, recovery conflict, timeout).
  return true;
}

/** Runs a display read on the standby when there is one, falling back to the primary. */
export async function displayRead<T>(targets: ReadTargets,
  read: (db: Queryable) => Promise<T>): Promise<T> {
  if (targets.readDb === undefined) return await read(targets.db);
  try {
    return await read(targets.readDb);
  } catch (error) {
    if (!retryOnPrimary(error)) throw error;
    return await read(targets.db);
  }
}
