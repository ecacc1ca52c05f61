/**
 * The embedded backend: PostgreSQL compiled to WebAssembly, in this process. It has one
 * connection, so transactions are serialized by PGlite itself; isolation levels are moot.
 *
 * Every statement runs on the event loop (WebAssembly, synchronously) and PGlite hands its
 * connection to the next waiting statement through promise callbacks, so a queue of
 * statements would run back to back in one turn of the event loop, with no network I/O in
 * between: the node then reads no request and accepts no connection until the queue is
 * empty, and Node accepts about one new connection per turn. Under an on-sale's load that
 * filled the listen backlog, the kernel dropped new connections, and clients retried them
 * 1, 3, 7, 15, 31 and 63 s later (docs/ARCHITECTURE.md, "Embedded database"). So
 * statements take turns here: each waits for the previous one and then for one pass of the
 * event loop (`setImmediate`, after pending I/O), which bounds a turn to one statement.
 */
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { Db, Queryable, QueryResult } from './db.js';
import { withRetry } from './db.js';
import { createPgliteWorkerDb } from './pgliteWorker.js';

interface PgliteLike {
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[]; affectedRows?: number }>;
  exec(sql: string): Promise<unknown>;
}

/** Resolves after the event loop has run its pending I/O callbacks. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Runs work one at a time in arrival order, each after a turn of the event loop. */
class TurnGate {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const next = this.tail.then(nextTurn).then(work);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

function wrap(client: PgliteLike, gate: (work: () => Promise<unknown>) => Promise<unknown>):
Queryable {
  return {
    async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
      const result = await gate(() => client.query<T>(sql, params)) as
        { rows: T[]; affectedRows?: number };
      const changed = result.affectedRows ?? 0;
      return { rows: result.rows, rowCount: result.rows.length > 0 ? result.rows.length : changed };
    },
    async exec(sql: string): Promise<void> {
      await gate(() => client.exec(sql));
    },
  };
}

/** Where the embedded database runs. */
export interface PgliteOptions {
  /**
   * True: in a worker thread of its own (storage/pgliteWorker.ts), so HTTP and the database
   * use two cores; false (the default): on this thread, statements taking turns with I/O.
   */
  thread?: boolean;
}

/** Opens PGlite stored in `dataDir`, or in memory when `dataDir` is undefined. */
export async function createPgliteDb(
  dataDir: string | undefined, options: PgliteOptions = {},
): Promise<Db> {
  if (options.thread ?? false) return await createPgliteWorkerDb(dataDir);
  if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true });
  const pglite = await PGlite.create(dataDir === undefined ? undefined : dataDir);
  const gate = new TurnGate();
  const queryable = wrap(pglite, (work) => gate.run(work));
  // Inside a transaction the gate is already held: its statements only let I/O run first.
  const inTransaction = async (work: () => Promise<unknown>): Promise<unknown> => {
    await nextTurn();
    return await work();
  };
  return {
    kind: 'pglite',
    query: queryable.query,
    exec: queryable.exec,
    tx: (work, opts = {}) => withRetry(
      () => gate.run(() => pglite.transaction((tx) => work(wrap(tx, inTransaction)))),
      opts.maxAttempts ?? 5),
    async ping() {
      await gate.run(() => pglite.query('SELECT 1'));
    },
    async close() {
      await gate.run(() => pglite.close());
    },
  };
}
