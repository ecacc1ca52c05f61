/**
 * Idempotency keys, stored in PostgreSQL and scoped to the customer. The first request
 * with a key inserts a 'running' record (a unique key: concurrent duplicates cannot both
 * insert), executes, and stores its reply; a later request with the same key and the same
 * fingerprint waits for that reply and gets it verbatim; the same key with a different
 * fingerprint is idempotency_conflict. Expected domain errors are stored and replayed
 * like replies; unexpected failures delete the record so a retry can execute.
 */
import { limits } from '../config/limits.js';
import { DomainError, type ErrorCode } from '../core/errors.js';
import type { Queryable } from '../storage/index.js';

/** A reply worth replaying. */
export interface StoredReply {
  status: number;
  body: unknown;
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
  response_body: Stored | null; stale: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `execute` once per (customer, key); replays its outcome for every retry. */
export async function runIdempotent(
  db: Queryable, scope: IdempotencyScope, execute: () => Promise<StoredReply>,
  waitMs: number = limits.idempotencyWaitMs,
): Promise<StoredReply & { replayed: boolean }> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const inserted = await db.query(
      `INSERT INTO idempotency_keys (customer_id, idem_key, fingerprint, state)
       VALUES ($1, $2, $3, 'running') ON CONFLICT DO NOTHING`,
      [scope.customerId, scope.key, scope.fingerprint],
    );
    if (inserted.rowCount === 1) return { ...(await executeAndStore(db, scope, execute)),
      replayed: false };
    const { rows } = await db.query<Row>(
      `SELECT fingerprint, state, response_status, response_body,
              created_at < now() - make_interval(secs => $3) AS stale
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
      // The node running it died: clear the record and let this request execute.
      await db.query(
        `DELETE FROM idempotency_keys
          WHERE customer_id = $1 AND idem_key = $2 AND state = 'running'`,
        [scope.customerId, scope.key],
      );
      continue;
    }
    if (Date.now() >= deadline) {
      throw new DomainError('idempotency_conflict',
        'a request with this Idempotency-Key is still in progress');
    }
    await sleep(25 + Math.random() * 25);
  }
}

function replay(status: number, stored: Stored): StoredReply {
  if (stored.kind === 'error') throw new DomainError(stored.code, stored.detail, stored.extra);
  return { status, body: stored.body };
}

async function executeAndStore(
  db: Queryable, scope: IdempotencyScope, execute: () => Promise<StoredReply>,
): Promise<StoredReply> {
  let stored: Stored;
  let status: number;
  let result: StoredReply | undefined;
  try {
    result = await execute();
    stored = { kind: 'reply', body: result.body };
    status = result.status;
  } catch (error) {
    if (!(error instanceof DomainError) || error.status >= 500) {
      await db.query('DELETE FROM idempotency_keys WHERE customer_id = $1 AND idem_key = $2',
        [scope.customerId, scope.key]);
      throw error;
    }
    stored = { kind: 'error', code: error.code, detail: error.message, extra: error.extra };
    status = error.status;
  }
  await db.query(
    `UPDATE idempotency_keys SET state = 'done', response_status = $3, response_body = $4::jsonb
      WHERE customer_id = $1 AND idem_key = $2`,
    [scope.customerId, scope.key, status, JSON.stringify(stored)],
  );
  return replay(status, stored);
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
