/**
 * The embedded backend with PGlite in a worker thread of its own (pgliteThread.ts): the
 * node's main thread parses requests and writes replies while the WebAssembly database runs
 * statements on the other core. Same `Db` as storage/pglite.ts: one connection, so a
 * transaction has the connection to itself (statements outside it wait until it ends), and
 * statements outside transactions go to the thread as they come, which runs them in order.
 * Errors come back with their fields (`code`, `detail`, `constraint`, …), so retries on
 * serialization failures and deadlocks and the callers' checks of SQLSTATEs work as before.
 */
import { mkdirSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Db, Queryable, QueryResult } from './db.js';
import { withRetry } from './db.js';

/** A message to the thread (pgliteThread.mjs): a statement, a script, or the end. */
type ThreadCall =
  | { id: number; op: 'query'; sql: string; params?: unknown[] }
  | { id: number; op: 'exec'; sql: string }
  | { id: number; op: 'close' };

/** An error's message and its primitive fields (code, detail, constraint, …). */
interface ThreadError { message: string; fields: Record<string, string | number> }

/**
 * The thread's answer to a call, or its first message once the database is open. `json`
 * names the columns whose json or jsonb values come as text (parsed on this thread).
 */
type ThreadAnswer =
  | { id: number; ok: true; rows: unknown[]; affectedRows: number; json?: string[] }
  | { id: number; ok: false; error: ThreadError }
  | { id: -1; ready: true };

type CallBody =
  | { op: 'query'; sql: string; params?: unknown[] }
  | { op: 'exec'; sql: string }
  | { op: 'close' };

interface Pending {
  resolve: (answer: { rows: unknown[]; affectedRows: number }) => void;
  reject: (error: Error) => void;
}

/**
 * Parses the json and jsonb values the thread sent as text, in place: the database thread
 * is the embedded backend's bottleneck, and a string crosses the thread boundary cheaper
 * than the object graph parsed from it.
 */
function parseJsonColumns(rows: unknown[], columns: readonly string[]): void {
  for (const row of rows) {
    const record = row as Record<string, unknown>;
    for (const column of columns) {
      const value = record[column];
      if (typeof value === 'string') record[column] = JSON.parse(value) as unknown;
    }
  }
}

function rebuild(error: ThreadError): Error {
  return Object.assign(new Error(error.message), error.fields);
}

/** Starts the thread (plain JavaScript beside this file; the build copies it to dist). */
function startThread(dataDir: string | undefined): Worker {
  return new Worker(new URL('./pgliteThread.mjs', import.meta.url), { workerData: { dataDir } });
}

/** Opens PGlite in a worker thread, stored in `dataDir`, or in memory when undefined. */
export async function createPgliteWorkerDb(dataDir: string | undefined): Promise<Db> {
  if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true });
  const worker = startThread(dataDir);
  const pending = new Map<number, Pending>();
  let nextId = 0;
  let broken: Error | undefined;
  const fail = (error: Error): void => {
    broken ??= error;
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  };
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    worker.once('error', onError);
    worker.once('message', (answer: ThreadAnswer) => {
      worker.off('error', onError);
      if ('ready' in answer) resolve();
      else reject(new Error('assertion failed: the database thread answered before ready'));
    });
  });
  worker.on('message', (answer: ThreadAnswer) => {
    if ('ready' in answer) return;
    const waiter = pending.get(answer.id);
    if (waiter === undefined) return;
    pending.delete(answer.id);
    if (pending.size === 0) worker.unref();
    if (!answer.ok) {
      waiter.reject(rebuild(answer.error));
      return;
    }
    try {
      if (answer.json !== undefined) parseJsonColumns(answer.rows, answer.json);
    } catch (error) {
      // A value the thread called json that does not parse fails its query, not the node.
      waiter.reject(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    waiter.resolve(answer);
  });
  worker.on('error', (error) => fail(error));
  worker.on('exit', (code) => fail(new Error(`the embedded database thread exited (${code})`)));
  // Idle, the thread does not keep the process alive (as PGlite in this thread would not).
  worker.unref();

  const call = (body: CallBody): Promise<{ rows: unknown[]; affectedRows: number }> =>
    new Promise((resolve, reject) => {
      if (broken !== undefined) {
        reject(broken);
        return;
      }
      const id = nextId++;
      if (pending.size === 0) worker.ref();
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, ...body } satisfies ThreadCall);
    });
  const run = async <T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> => {
    const result = await call({ op: 'query', sql, params });
    return {
      rows: result.rows as T[],
      rowCount: result.rows.length > 0 ? result.rows.length : result.affectedRows,
    };
  };
  const onConnection: Queryable = {
    query: run,
    exec: async (sql) => {
      await call({ op: 'exec', sql });
    },
  };

  // Transactions take the connection in turn; a statement outside them waits for the ones
  // queued before it.
  let turns: Promise<void> = Promise.resolve();
  let transactions = 0;
  const outside = async <T>(work: () => Promise<T>): Promise<T> => {
    if (transactions > 0) await turns;
    return await work();
  };
  const transaction = async <T>(work: (tx: Queryable) => Promise<T>): Promise<T> => {
    transactions++;
    const mine = turns.then(async () => {
      await call({ op: 'exec', sql: 'BEGIN' });
      let result: T;
      try {
        result = await work(onConnection);
      } catch (error) {
        await call({ op: 'exec', sql: 'ROLLBACK' }).catch(() => undefined);
        throw error;
      }
      await call({ op: 'exec', sql: 'COMMIT' });
      return result;
    });
    turns = mine.then(() => undefined, () => undefined).finally(() => {
      transactions--;
    });
    return await mine;
  };

  return {
    kind: 'pglite',
    query: (sql, params) => outside(() => run(sql, params)),
    exec: (sql) => outside(() => onConnection.exec(sql)),
    tx: (work, opts = {}) => withRetry(() => transaction(work), opts.maxAttempts ?? 5),
    async ping() {
      await outside(() => run('SELECT 1'));
    },
    async close() {
      if (broken !== undefined) return;
      await outside(() => call({ op: 'close' }));
      broken = new Error('the embedded database is closed');
      await worker.terminate();
    },
  };
}
