/**
 * Idempotency keys, stored in PostgreSQL and scoped to the customer. The first request
 * with a key inserts a 'running' record (a unique key: concurrent duplicates cannot both
 * insert), executes, and stores its reply; a later request with the same key and the same
 * fingerprint waits for that reply and gets it verbatim; the same key with a different
 * fingerprint is idempotency_conflict. Expected, final domain errors are stored and
 * replayed like replies; unexpected failures and retryable errors delete the record so a
 * retry can execute. Each record has an owner token: a stale 'running' record is taken over
 * by swapping the owner, and only the owner may finish or delete it; a request fenced out
 * that way answers a retryable service_unavailable (its retry gets the new owner's reply).
 */
import { randomUUID } from 'node:crypto';
import { limits } from '../config/limits.js';
import { DomainError, type ErrorCode } from '../core/errors.js';
import type { Queryable } from '../storage/index.js';

/** A reply worth replaying. */
export interface StoredReply {
  status: number;
  body: unknown;
  /** Set by an `execute` that stored its reply itself, with its effect (see FinishInTx). */
  stored?: boolean;
}

/** Identifies one request: who, which key, and a fingerprint of what was asked. */
export interface IdempotencyScope {
  customerId: string;
  key: string;
  fingerprint: string;
}

type Stored =
  | { kind: 'reply'; body: unknown }
  | { kind: 'error'; code: ErrorCode; detail: string; extra: Record<string, unknown> };

interface Row {
  fingerprint: string; state: string; response_status: number | null;
  response_body: Stored | null; stale: boolean; owner: string | null; stale_in_seconds: number;
}

/**
 * Stores the reply inside the caller's transaction, so the effect and its record commit
 * together (a crash cannot leave a committed effect behind a 'running' record). It throws
 * when this request no longer owns the record (a takeover fenced it out), which rolls the
 * caller's transaction back: the effect is not committed twice.
 */
export type FinishInTx = (tx: Queryable, reply: StoredReply) => Promise<void>;

/** Thrown by FinishInTx when another request took the record over. */
export class IdempotencyFenced extends Error {
  constructor() {
    super('idempotency record taken over by another request');
    this.name = 'IdempotencyFenced';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `execute` once per (customer, key); replays its outcome for every retry. `execute`
 * may call `finish` in its own transaction to store its reply atomically with its effect.
 */
export async function runIdempotent(
  db: Queryable, scope: IdempotencyScope,
  execute: (finish: FinishInTx, owner: string) => Promise<StoredReply>,
  waitMs: number = limits.idempotencyWaitMs,
): Promise<StoredReply & { replayed: boolean }> {
  const deadline = Date.now() + waitMs;
  const owner = randomUUID();
  for (;;) {
    const inserted = await db.query(
      `INSERT INTO idempotency_keys (customer_id, idem_key, fingerprint, state, owner)
       VALUES ($1, $2, $3, 'running', $4) ON CONFLICT DO NOTHING`,
      [scope.customerId, scope.key, scope.fingerprint, owner],
    );
    if (inserted.rowCount === 1) {
      return { ...(await executeAndStore(db, scope, owner, execute)), replayed: false };
    }
    const { rows } = await db.query<Row>(
      `SELECT fingerprint, state, response_status, response_body, owner::text AS owner,
              created_at < now() - make_interval(secs => $3) AS stale,
              extract(epoch FROM created_at + make_interval(secs => $3) - now())::float8
                AS stale_in_seconds
         FROM idempotency_keys WHERE customer_id = $1 AND idem_key = $2`,
      [scope.customerId, scope.key, limits.idempotencyStaleSeconds],
    );
    const row = rows[0];
    if (row === undefined) continue; // the first attempt failed and cleared it: go again
    if (row.fingerprint !== scope.fingerprint) {
      throw new DomainError('idempotency_conflict',
        'this Idempotency-Key was used for a different request');
    }
    if (row.state === 'done' && row.response_body !== null) {
      return { ...replay(row.response_status ?? 200, row.response_body), replayed: true };
    }
    if (row.stale) {
      // The request running it is presumed dead. Take the record over only from the owner
      // we saw: of several requests taking over at once exactly one wins, and the presumed
      // dead one, should it wake up, can no longer finish or delete it.
      const taken = await db.query(
        `UPDATE idempotency_keys SET owner = $4, created_at = now()
          WHERE customer_id = $1 AND idem_key = $2 AND state = 'running'
            AND owner IS NOT DISTINCT FROM $3::uuid`,
        [scope.customerId, scope.key, row.owner, owner],
      );
      if (taken.rowCount === 1) {
        return { ...(await executeAndStore(db, scope, owner, execute)), replayed: false };
      }
      continue;
    }
    if (Date.now() >= deadline) throw stillRunning(row.stale_in_seconds);
    await sleep(25 + Math.random() * 25);
  }
}

/**
 * The recorded outcome of a key's first request, read without writing anything: its reply
 * (a stored refusal is thrown, as a replay throws it), idempotency_conflict for another
 * request's key, or null while nothing is recorded yet (no record, or one still running).
 * For a caller that would otherwise refuse the request without looking (a busy store):
 * a retry of a request already answered gets its answer.
 */
export async function recordedReply(
  db: Queryable, scope: IdempotencyScope,
): Promise<StoredReply | null> {
  const { rows } = await db.query<Pick<Row, 'fingerprint' | 'state' | 'response_status' |
    'response_body'>>(
    `SELECT fingerprint, state, response_status, response_body
       FROM idempotency_keys WHERE customer_id = $1 AND idem_key = $2`,
    [scope.customerId, scope.key],
  );
  const row = rows[0];
  if (row === undefined) return null;
  if (row.fingerprint !== scope.fingerprint) {
    throw new DomainError('idempotency_conflict',
      'this Idempotency-Key was used for a different request');
  }
  if (row.state !== 'done' || row.response_body === null) return null;
  return replay(row.response_status ?? 200, row.response_body);
}

/**
 * The key's first request is still running, or died in a database blip before it could
 * clear its record (which is then taken over once stale). Either way the same request may
 * succeed later, so this is a retryable 503 with Retry-After, not a final conflict.
 */
function stillRunning(staleInSeconds: number): DomainError {
  const retryAfterSeconds = Math.min(limits.idempotencyRetryAfterMaxSeconds,
    Math.max(1, Math.ceil(staleInSeconds)));
  return new DomainError('service_unavailable',
    'a request with this Idempotency-Key is still in progress; retry it later',
    { retryAfterSeconds });
}

/**
 * The answer of a request fenced out of its key's record: it was slow enough for another
 * request with the key to take the record over, and its own effect rolled back. That other
 * request is running now; a retry waits for its outcome and replays it. A retryable 503,
 * not a bare 500: nothing went wrong but timing.
 */
function takenOver(): DomainError {
  return new DomainError('service_unavailable',
    'another request with this Idempotency-Key took it over and is still in progress; '
    + 'retry it to get its outcome', { retryAfterSeconds: 1 });
}

function replay(status: number, stored: Stored): StoredReply {
  if (stored.kind === 'error') throw new DomainError(stored.code, stored.detail, stored.extra);
  return { status, body: stored.body };
}

const finishSql = `UPDATE idempotency_keys
    SET state = 'done', response_status = $4, response_body = $5::jsonb
  WHERE customer_id = $1 AND idem_key = $2 AND owner = $3 AND state = 'running'`;

async function executeAndStore(
  db: Queryable, scope: IdempotencyScope, owner: string,
  execute: (finish: FinishInTx, owner: string) => Promise<StoredReply>,
): Promise<StoredReply> {
  let finished = false;
  const finish: FinishInTx = async (tx, reply) => {
    const stored: Stored = { kind: 'reply', body: reply.body };
    const done = await tx.query(finishSql,
      [scope.customerId, scope.key, owner, reply.status, JSON.stringify(stored)]);
    if (done.rowCount !== 1) throw new IdempotencyFenced();
    finished = true;
  };
  let result: StoredReply;
  try {
    result = await execute(finish, owner);
  } catch (thrown) {
    const error = thrown instanceof IdempotencyFenced ? takenOver() : thrown;
    // Fenced out by a takeover ('not_owner'): the error is still this request's answer.
    await recordFailure(db, scope, owner, error);
    throw error;
  }
  if (finished || result.stored === true) return result;
  const stored: Stored = { kind: 'reply', body: result.body };
  // Fenced by owner: a request that was taken over does not overwrite the new owner's work.
  await db.query(finishSql,
    [scope.customerId, scope.key, owner, result.status, JSON.stringify(stored)]);
  return replay(result.status, stored);
}

/**
 * Records how the request owning (or about to own) the key's record failed, then throws
 * the error. Expected, final domain errors are stored for replay: into the owner's
 * 'running' record, or as a new record when the request failed before writing one.
 * Unexpected failures and errors a retry may turn around (not on sale yet, a payment
 * still pending, a race lost) are not stored: the owner's record is deleted and the key
 * stays usable. Answers 'not_owner' instead of throwing when another request holds the
 * key's record, so the caller can replay that request's outcome.
 */
export async function recordFailure(
  db: Queryable, scope: IdempotencyScope, owner: string, error: unknown,
): Promise<'not_owner'> {
  // Bad input is not stored either (it changes nothing, as every 4xx for bad input): the
  // same key with a corrected body is then a new request, not a conflicting reuse.
  if (!(error instanceof DomainError) || error.status >= 500 || error.retryable ||
      error.code === 'validation_failed') {
    await db.query(
      `DELETE FROM idempotency_keys
        WHERE customer_id = $1 AND idem_key = $2 AND owner = $3 AND state = 'running'`,
      [scope.customerId, scope.key, owner]);
    throw error;
  }
  const stored: Stored = { kind: 'error', code: error.code, detail: error.message,
    extra: error.extra };
  const written = await db.query(
    `INSERT INTO idempotency_keys (customer_id, idem_key, fingerprint, state, owner,
                                   response_status, response_body)
     VALUES ($1, $2, $6, 'done', $3, $4, $5::jsonb)
     ON CONFLICT (customer_id, idem_key) DO UPDATE
        SET state = 'done', response_status = $4, response_body = $5::jsonb
      WHERE idempotency_keys.owner = $3 AND idempotency_keys.state = 'running'`,
    [scope.customerId, scope.key, owner, error.status, JSON.stringify(stored),
      scope.fingerprint]);
  if (written.rowCount !== 1) return 'not_owner';
  throw error;
}

/** Deletes records older than the retention period, a bounded batch at a time. */
export async function pruneIdempotencyKeys(db: Queryable, batch = 1_000): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM idempotency_keys
      WHERE (customer_id, idem_key) IN (
        SELECT customer_id, idem_key FROM idempotency_keys
         WHERE created_at < now() - make_interval(hours => $1) LIMIT $2)`,
    [limits.idempotencyRetentionHours, batch],
  );
  return rowCount;
}
