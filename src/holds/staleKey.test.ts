/**
 * A hold whose Idempotency-Key record is taken over while the hold is being decided.
 *
 * A request that finds its key's record 'running' and stale (its first request presumed
 * dead after `limits.idempotencyStaleSeconds`) takes the record over and decides the hold
 * in a batch that finishes the taken-over record. Should that batch in turn be slow enough
 * for another request with the key to take the record over from it, the batch is fenced
 * out (the hold is not created twice). The fenced request used to answer a bare 500; it
 * now answers 503 `service_unavailable` with Retry-After: a request with this key is in
 * progress, and a retry gets its outcome. On both databases; the batch is held by a gate
 * while the second takeover is written, so the interleaving is built, not hoped for.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import type { BatchGate } from '../core/groupCommit.js';
import { stableJson } from '../http/idempotency.js';
import type { App } from '../http/types.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import { bearer, buildCustomers, buildEvent } from '../testing/factories.js';

const backends = await testBackends();

/** Lets an event's first batch go and holds its second until `release()`. */
class SecondBatchGate implements BatchGate {
  private batches = 0;
  private wake: (() => void) | undefined;
  private released = false;
  private signal: () => void = () => undefined;
  /** Resolves once the second batch is held. */
  readonly held = new Promise<void>((resolve) => { this.signal = resolve; });

  holds(_key: string, _queued: number, wake: () => void): boolean {
    if (this.released) return false;
    if (this.wake !== undefined) {
      this.wake = wake;
      return true;
    }
    this.batches += 1;
    if (this.batches < 2) return false;
    this.wake = wake;
    this.signal();
    return true;
  }

  release(): void {
    this.released = true;
    this.wake?.();
  }
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`a hold's key taken over as it is decided on ${backend.name}`,
    () => {
      let db: Db;
      let ctx: AppContext;
      let app: App;
      const gate = new SecondBatchGate();

      beforeAll(async () => {
        db = await backend.open();
        ({ app, ctx } = await buildTestApp(db, { seams: { holdBatches: gate } }));
      });
      afterAll(async () => {
        await app?.close();
        await db?.close();
      });

      it('answers a clean, retryable 503, creates no hold, and leaves the record to its owner',
        async () => {
          const { eventId } = await buildEvent(ctx);
          const [fan] = await buildCustomers(ctx, 1);
          const body = { zone: 'floor', quantity: 1 };
          const fingerprint = createHash('sha256').update(stableJson(
            ['POST', '/api/v1/events/:eventId/holds', { eventId }, body])).digest('base64url');
          // The key's first request died while running, long ago.
          await db.query(
            `INSERT INTO idempotency_keys (customer_id, idem_key, fingerprint, state, owner,
                                           created_at)
             VALUES ($1, 'k-stale', $2, 'running', gen_random_uuid(),
                     now() - interval '301 seconds')`,
            [fan!.customerId, fingerprint]);
          const answer = app.inject({
            method: 'POST', url: `/api/v1/events/${eventId}/holds`,
            headers: { ...bearer(fan!.token), 'idempotency-key': 'k-stale' }, payload: body,
          });
          // Its first batch saw the key; it took the record over; its second batch waits.
          await gate.held;
          const { rows: taken } = await db.query<{ owner: string }>(
            `UPDATE idempotency_keys SET owner = gen_random_uuid(), created_at = now()
              WHERE customer_id = $1 AND idem_key = 'k-stale' AND state = 'running'
             RETURNING owner::text AS owner`, [fan!.customerId]);
          expect(taken).toHaveLength(1);
          gate.release();

          const response = await answer;
          expect(response.statusCode, response.body).toBe(503);
          expect(response.json()).toMatchObject({ code: 'service_unavailable' });
          expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
          const { rows: holds } = await db.query(
            'SELECT 1 FROM holds WHERE customer_id = $1', [fan!.customerId]);
          expect(holds).toHaveLength(0);
          const { rows: record } = await db.query<{ owner: string; state: string }>(
            `SELECT owner::text AS owner, state FROM idempotency_keys
              WHERE customer_id = $1 AND idem_key = 'k-stale'`, [fan!.customerId]);
          expect(record).toEqual([{ owner: taken[0]?.owner, state: 'running' }]);
        });
    });
}
