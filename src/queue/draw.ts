/**
 * The pre-queue draw, in two steps so that no join ever waits for it.
 *
 * 1. **Reserve** (at on-sale, under the numbering lock, by the first join or tick): count
 *    the pre-queue P, record the seed, and move `last_number` past P. Joiners after this
 *    are numbered P + 1, P + 2, … at once, strictly in order. The cost is one indexed
 *    count, whatever the size of the pre-queue.
 * 2. **Assign** (by the admission leader, in bounded chunks, each its own transaction):
 *    a keying pass writes a `queue_draw_keys` row with HMAC-SHA256(seed, customer id) for
 *    every pre-queue entry, then a numbering pass takes the keys off that table in key
 *    order and hands the reserved numbers out in turn.
 *    Sorting by a keyed hash under a secret seed drawn at on-sale is a uniformly random
 *    order; anyone holding the seed can replay it (keyedOrder() in shuffle.ts) without the
 *    order ever being stored. Each chunk commits its progress (cursor, numbers handed out)
 *    with its rows and holds the draw row's lock, so chunks are serial, a crash between
 *    chunks resumes where it stopped, and a chunk run twice changes nothing.
 *
 * Numbers form a bijection onto the reserved range: exactly the P entries without a number
 * at reservation get one (no pre-queue entry can be added after it, since joins check
 * `drawn_at` under the same lock), the numbering pass walks them once in key order, and
 * the count of numbers handed out moves with them. Admission only admits a contiguous run
 * of numbers after servedUpTo, so it waits for a number that is not assigned yet instead
 * of passing over it.
 */
import { performance } from 'node:perf_hooks';

import { limits } from '../config/limits.js';
import { assert } from '../core/errors.js';
import type { Db, Queryable } from '../storage/index.js';
import { hmacPads, keyedOrderAlgorithm } from './shuffle.js';
import type { EntryRef } from './types.js';

/** Where a draw stands. */
export type DrawPhase = 'keying' | 'numbering' | 'done';

/** What the draw recorded, for audit and progress. */
export interface DrawRecord {
  seed: string;
  algorithm: string;
  /** P: the size of the pre-queue at on-sale. */
  entries: number;
  firstNumber: number;
  phase: DrawPhase;
  /** Reserved numbers handed out so far (first_number .. first_number + numbered − 1). */
  numbered: number;
  drawnAtMs: number;
  completedAtMs: number | null;
  /** The whole order, only on draws made before chunked drawing existed. */
  resultOrder: string[] | null;
}

/**
 * Reserves the numbers of the pre-queue: the caller holds the numbering row lock and has
 * seen `drawn_at` unset. Returns the new last number (last + P).
 */
export async function reserveDraw(
  tx: Queryable, eventId: string, lastNumber: number, nowMs: number, seed: string,
): Promise<number> {
  const { rows } = await tx.query<{ n: string }>(
    'SELECT count(*) AS n FROM queue_entries WHERE event_id = $1 AND number IS NULL',
    [eventId],
  );
  const entries = Number(rows[0]?.n ?? 0);
  const drawnAt = new Date(nowMs);
  const phase: DrawPhase = entries === 0 ? 'done' : 'keying';
  await tx.query(
    `INSERT INTO queue_draws (event_id, seed, algorithm, entries, first_number, drawn_at,
                              phase, completed_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [eventId, seed, keyedOrderAlgorithm, entries, lastNumber + 1, drawnAt, phase,
      entries === 0 ? drawnAt : null],
  );
  const last = lastNumber + entries;
  await tx.query(
    'UPDATE queue_numbering SET last_number = $2, drawn_at = $3 WHERE event_id = $1',
    [eventId, last, drawnAt],
  );
  return last;
}

interface DrawRow {
  seed: string;
  entries: number;
  first_number: string;
  phase: DrawPhase;
  cursor_key: Buffer | null;
  cursor_customer: string | null;
  numbered: string;
}

/** What one chunk did. */
export interface DrawStep {
  phase: DrawPhase;
  /** Entries keyed by this chunk (keying pass). */
  keyed: number;
  /** Entries numbered by this chunk, in number order (numbering pass). */
  numbered: EntryRef[];
}

/**
 * Runs one bounded chunk of an event's draw in its own transaction: keys or numbers up to
 * `size` pre-queue entries. Returns the phase after the chunk ('done' also when there is
 * no draw or it is complete).
 */
export async function drawChunk(
  db: Db, eventId: string, size: number = limits.queueDrawChunk,
): Promise<DrawStep> {
  assert(Number.isSafeInteger(size) && size > 0, 'draw chunk size is positive');
  return await db.tx(async (tx) => {
    const { rows } = await tx.query<DrawRow>(
      `SELECT seed, entries, first_number, phase, cursor_key, cursor_customer, numbered
         FROM queue_draws WHERE event_id = $1 FOR UPDATE`,
      [eventId],
    );
    const draw = rows[0];
    if (draw === undefined || draw.phase === 'done') {
      return { phase: 'done', keyed: 0, numbered: [] } as const;
    }
    if (draw.phase === 'keying') return await keyChunk(tx, eventId, draw, size);
    return await numberChunk(tx, eventId, draw, size);
  });
}

async function keyChunk(
  tx: Queryable, eventId: string, draw: DrawRow, size: number,
): Promise<DrawStep> {
  // Fresh statistics before each pass, so its ORDER BY … LIMIT walks the index instead of
  // sorting the whole pre-queue on every chunk (the tables have just grown by P rows).
  if (draw.cursor_customer === null) await tx.query('ANALYZE queue_entries');
  const pads = hmacPads(draw.seed);
  const after = draw.cursor_customer === null ? '' : 'AND customer_id > $5';
  const params: unknown[] = [eventId, size, pads.inner, pads.outer];
  if (draw.cursor_customer !== null) params.push(draw.cursor_customer);
  const { rows } = await tx.query<{ customer_id: string }>(
    `INSERT INTO queue_draw_keys (event_id, draw_key, customer_id)
     SELECT $1, sha256($4::bytea || sha256($3::bytea || convert_to(customer_id::text, 'UTF8'))),
            customer_id
       FROM (SELECT customer_id FROM queue_entries
              WHERE event_id = $1 AND number IS NULL ${after}
              ORDER BY customer_id LIMIT $2) AS next
     RETURNING customer_id`,
    params,
  );
  const last = rows.map((row) => row.customer_id).sort().at(-1) ?? null;
  const finished = rows.length < size;
  if (finished) await tx.query('ANALYZE queue_draw_keys');
  await tx.query(
    `UPDATE queue_draws SET phase = $2, cursor_customer = $3, cursor_key = NULL
      WHERE event_id = $1`,
    [eventId, finished ? 'numbering' : 'keying', finished ? null : last],
  );
  return { phase: finished ? 'numbering' : 'keying', keyed: rows.length, numbered: [] };
}

async function numberChunk(
  tx: Queryable, eventId: string, draw: DrawRow, size: number,
): Promise<DrawStep> {
  const numbered = Number(draw.numbered);
  const next = Number(draw.first_number) + numbered;
  // The cursor lets each chunk start at its first live key instead of walking past the
  // dead index entries of the keys earlier chunks deleted.
  const after = draw.cursor_key === null ? '' : 'AND (draw_key, customer_id) > ($4, $5)';
  const params: unknown[] = [eventId, Math.min(size, draw.entries - numbered), next];
  if (draw.cursor_key !== null) params.push(draw.cursor_key, draw.cursor_customer);
  const { rows } = await tx.query<{ customer_id: string; number: string; draw_key: Buffer }>(
    `WITH chunk AS (
       SELECT customer_id, draw_key,
              row_number() OVER (ORDER BY draw_key, customer_id) - 1 AS i
         FROM (SELECT draw_key, customer_id FROM queue_draw_keys
                WHERE event_id = $1 ${after}
                ORDER BY draw_key, customer_id LIMIT $2) AS next)
     UPDATE queue_entries e SET number = $3 + chunk.i
       FROM chunk
      WHERE e.event_id = $1 AND e.customer_id = chunk.customer_id AND e.number IS NULL
      RETURNING e.customer_id, e.number, chunk.draw_key`,
    params,
  );
  const entries = rows
    .map((row) => ({ customerId: row.customer_id, number: Number(row.number), key: row.draw_key }))
    .sort((a, b) => a.number - b.number);
  const total = numbered + entries.length;
  const finished = total === draw.entries;
  assert(entries.length === Math.min(size, draw.entries - numbered),
    `draw of ${eventId} found its reserved entries`);
  const lastEntry = entries.at(-1);
  if (lastEntry !== undefined) {
    // Keys before the cursor are gone already, so this deletes exactly the chunk's keys.
    await tx.query(
      `DELETE FROM queue_draw_keys
        WHERE event_id = $1 AND (draw_key, customer_id) <= ($2, $3)`,
      [eventId, lastEntry.key, lastEntry.customerId],
    );
  }
  await tx.query(
    `UPDATE queue_draws
        SET numbered = $2, phase = $3, cursor_key = $4, cursor_customer = $5,
            completed_at = CASE WHEN $3 = 'done' THEN clock_timestamp() END
      WHERE event_id = $1`,
    [eventId, total, finished ? 'done' : 'numbering', lastEntry?.key ?? draw.cursor_key,
      lastEntry?.customerId ?? draw.cursor_customer],
  );
  return {
    phase: finished ? 'done' : 'numbering', keyed: 0,
    numbered: entries.map(({ customerId, number }) => ({ customerId, number })),
  };
}

/** Bounds on how much drawing one call may do. */
export interface DrawBudget {
  /** Entries per chunk (one transaction). */
  chunkSize?: number;
  /** Chunks at most. */
  maxChunks?: number;
  /** Stop starting chunks after this much wall time. */
  budgetMs?: number;
}

/**
 * Advances an event's draw by whole chunks within a budget (the admission tick calls it).
 * Returns the phase it left the draw in and the entries it numbered.
 */
export async function advanceDraw(
  db: Db, eventId: string, budget: DrawBudget = {},
): Promise<{ phase: DrawPhase; numbered: EntryRef[] }> {
  const maxChunks = budget.maxChunks ?? limits.queueDrawChunksPerTick;
  const budgetMs = budget.budgetMs ?? limits.queueDrawTickBudgetMs;
  // A work budget on this node, not a time the domain reasons about.
  const started = performance.now();
  const numbered: EntryRef[] = [];
  let phase: DrawPhase = 'done';
  for (let chunk = 0; chunk < maxChunks; chunk += 1) {
    const step = await drawChunk(db, eventId, budget.chunkSize);
    phase = step.phase;
    numbered.push(...step.numbered);
    if (phase === 'done' || performance.now() - started >= budgetMs) break;
  }
  return { phase, numbered };
}

/** The recorded draw of an event, if it has been drawn. */
export async function findDraw(db: Queryable, eventId: string): Promise<DrawRecord | undefined> {
  const { rows } = await db.query<{
    seed: string; algorithm: string; entries: number; first_number: string; phase: DrawPhase;
    numbered: string; drawn_at: Date; completed_at: Date | null; result_order: string[] | null;
  }>(
    `SELECT seed, algorithm, entries, first_number, phase, numbered, drawn_at, completed_at,
            result_order
       FROM queue_draws WHERE event_id = $1`,
    [eventId],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  return {
    seed: row.seed, algorithm: row.algorithm, entries: row.entries,
    firstNumber: Number(row.first_number), phase: row.phase, numbered: Number(row.numbered),
    drawnAtMs: row.drawn_at.getTime(), completedAtMs: row.completed_at?.getTime() ?? null,
    resultOrder: row.result_order,
  };
}
