/**
 * Idempotency records: a stale 'running' record is taken over by exactly one request, the
 * presumed-dead first request can no longer finish it, and retryable refusals are not
 * stored against the key. Over HTTP: a hold refused as not yet on sale succeeds with the
 * same key once the sale opens.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import { DomainError } from '../core/errors.js';
import type { App } from '../http/types.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import { bearer, buildCustomer, buildEvent } from '../testing/factories.js';
import { runIdempotent, type IdempotencyScope } from './store.js';

const backends = await testBackends();

for (const backend of backends) {
  describe.skipIf(!backend.available)(`idempotency records on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;
    let scopeNo = 0;

    beforeAll(async () => {
      db = await backend.open();
      ({ app, ctx } = await buildTestApp(db));
    });
    afterAll(async () => {
      await app?.close();
      await db?.close();
    });

    async function scope(): Promise<IdempotencyScope> {
      const fan = await buildCustomer(ctx);
      return { customerId: fan.customerId, key: `k-${++scopeNo}`, fingerprint: 'fp' };
    }

    it('a stale record is taken over once, and its first owner is fenced out', async () => {
      const s = await scope();
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let started: () => void = () => undefined;
      const running = new Promise<void>((resolve) => {
        started = resolve;
      });
      // The first request stalls mid-way (a long GC pause, a partitioned node)...
      const first = runIdempotent(db, s, async (finish) => {
        started();
        await gate;
        await db.tx((tx) => finish(tx, { status: 201, body: { by: 'first' } }));
        return { status: 201, body: { by: 'first' } };
      }).catch((error: unknown) => error);
      await running;
      // ...long enough to look dead.
      await db.query(`UPDATE idempotency_keys SET created_at = now() - interval '1 hour'
                       WHERE customer_id = $1 AND idem_key = $2`, [s.customerId, s.key]);
      let executions = 0;
      const takers = await Promise.all(Array.from({ length: 5 }, (_, i) =>
        runIdempotent(db, s, async (finish) => {
          executions++;
          const reply = { status: 201, body: { by: `taker-${i}` } };
          await db.tx((tx) => finish(tx, reply));
          return reply;
        })));
      expect(executions).toBe(1);
      const bodies = new Set(takers.map((t) => JSON.stringify(t.body)));
      expect(bodies.size).toBe(1);
      release();
      // The first owner wakes up: its finish is refused, its transaction rolls back.
      // It answers a retryable 503, not the bare fencing error (a 500 over HTTP).
      expect(await first).toMatchObject({ code: 'service_unavailable' });
      const again = await runIdempotent(db, s, async () => {
        throw new Error('must not execute again');
      });
      expect(again.replayed).toBe(true);
      expect(JSON.stringify(again.body)).toBe([...bodies][0]);
    });

    it('does not store retryable refusals; stores final ones', async () => {
      const s = await scope();
      await expect(runIdempotent(db, s, async () => {
        throw new DomainError('payment_pending');
      })).rejects.toMatchObject({ code: 'payment_pending' });
      const ok = await runIdempotent(db, s, async () => ({ status: 201, body: { ok: true } }));
      expect(ok).toMatchObject({ replayed: false, body: { ok: true } });
      const t = await scope();
      await expect(runIdempotent(db, t, async () => {
        throw new DomainError('seats_unavailable');
      })).rejects.toMatchObject({ code: 'seats_unavailable' });
      await expect(runIdempotent(db, t, async () => ({ status: 201, body: {} })))
        .rejects.toMatchObject({ code: 'seats_unavailable' });
    });

    it('a hold refused before the sale opens succeeds with the same key after', async () => {
      const event = await buildEvent(ctx, {
        onSaleAt: new Date(ctx.clock.nowMs() + 3_600_000).toISOString() });
      const fan = await buildCustomer(ctx);
      const hold = () => app.inject({ method: 'POST',
        url: `/api/v1/events/${event.eventId}/holds`,
        headers: { ...bearer(fan.token), 'idempotency-key': 'early-bird' },
        payload: { seats: ['A-1-1'] } });
      const early = await hold();
      expect(early.statusCode).toBe(403);
      expect(early.json().code).toBe('not_on_sale');
      await db.query(`UPDATE events SET on_sale_at = now() - interval '1 minute'
                       WHERE event_id = $1`, [event.eventId]);
      const open = await hold();
      expect(open.statusCode, open.body).toBe(201);
      const replayed = await hold();
      expect(replayed.headers['idempotent-replayed']).toBe('true');
      expect(replayed.json()).toEqual(open.json());
    });
  });
}
