/**
 * A database too busy to answer is a 503 with `Retry-After`, not an internal error: a queue
 * join whose batch cannot get the line's numbering lock within `lock_timeout` (held here by
 * another session, as a stalled batch of another node would) is refused, writes nothing, and
 * succeeds when sent again. The predicate is checked against the errors PostgreSQL really
 * raises, and an error that is not about load stays a bare 500. PostgreSQL only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { AppContext } from '../context.js';
import { isDatabaseBusy, type Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import { bearer, buildCustomer, buildEvent } from '../testing/factories.js';
import type { App } from './types.js';

const backends = await testBackends();
const postgres = backends.find((backend) => backend.name === 'postgres');

/** The error `work` rejects with. */
async function failure(work: Promise<unknown>): Promise<unknown> {
  return await work.then(() => { throw new Error('expected a failure'); }, (error) => error);
}

describe.skipIf(postgres === undefined || !postgres.available)(
  'a busy database answers 503 on PostgreSQL', () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;

    beforeAll(async () => {
      db = await (postgres as NonNullable<typeof postgres>).open({
        poolMax: 6, lockTimeoutMs: 300,
      });
      ({ app, ctx } = await buildTestApp(db));
    });
    afterAll(async () => {
      await app?.close();
      await db?.close();
    });

    async function join(eventId: string, token: string) {
      return await app.inject({
        method: 'POST', url: `/api/v1/events/${eventId}/queue`, headers: bearer(token),
      });
    }

    const entries = async (customerId: string): Promise<number> => {
      const { rows } = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM queue_entries WHERE customer_id = $1', [customerId]);
      return rows[0]?.n ?? -1;
    };

    it('a join that waits out lock_timeout is refused 503, writes nothing, then joins', async () => {
      const { eventId } = await buildEvent(ctx, {
        queue: { enabled: true, admitPerMinute: 6_000, maxActiveShoppers: 2 },
      });
      const [first, second] = [await buildCustomer(ctx), await buildCustomer(ctx)];
      expect((await join(eventId, first.token)).statusCode).toBe(201);

      let release = (): void => undefined;
      const released = new Promise<void>((resolve) => { release = resolve; });
      let locked = (): void => undefined;
      const lockTaken = new Promise<void>((resolve) => { locked = resolve; });
      // Another session holds the numbering row, as a stalled batch would.
      const holder = db.tx(async (tx) => {
        await tx.query('SELECT 1 FROM queue_numbering WHERE event_id = $1 FOR UPDATE', [eventId]);
        locked();
        await released;
      }, { maxAttempts: 1 });
      await lockTaken;
      try {
        const refused = await join(eventId, second.token);
        expect(refused.statusCode).toBe(503);
        expect(refused.headers['retry-after']).toBe('1');
        expect(refused.headers['content-type']).toContain('application/problem+json');
        expect(refused.json()).toMatchObject({ status: 503, code: 'service_unavailable' });
        expect(refused.body).not.toMatch(/lock|queue_numbering|SQL/i);
        expect(await entries(second.customerId)).toBe(0);
      } finally {
        release();
        await holder;
      }
      // The same request with the lock free: the refusal came from the lock alone.
      const again = await join(eventId, second.token);
      expect(again.statusCode).toBe(201);
      expect(again.json()).toMatchObject({ state: 'waiting', number: 2 });
      expect(await entries(second.customerId)).toBe(1);
    });

    it('tells load from faults with the errors PostgreSQL raises', async () => {
      await db.query('CREATE TABLE busy_probe (id int PRIMARY KEY)');
      await db.query('INSERT INTO busy_probe VALUES (1)');
      let release = (): void => undefined;
      const released = new Promise<void>((resolve) => { release = resolve; });
      let locked = (): void => undefined;
      const lockTaken = new Promise<void>((resolve) => { locked = resolve; });
      const holder = db.tx(async (tx) => {
        await tx.query('SELECT 1 FROM busy_probe WHERE id = 1 FOR UPDATE');
        locked();
        await released;
      }, { maxAttempts: 1 });
      await lockTaken;
      try {
        const lockTimeout = await failure(db.query('UPDATE busy_probe SET id = 1 WHERE id = 1'));
        expect([(lockTimeout as { code?: string }).code, isDatabaseBusy(lockTimeout)])
          .toEqual(['55P03', true]);
      } finally {
        release();
        await holder;
      }
      const cancelled = await failure(db.tx(async (tx) => {
        await tx.query("SET LOCAL statement_timeout = '50ms'");
        await tx.query('SELECT pg_sleep(2)');
      }, { maxAttempts: 1 }));
      expect([(cancelled as { code?: string }).code, isDatabaseBusy(cancelled)])
        .toEqual(['57014', true]);
      // Faults are not load: a missing table, a broken constraint.
      const missing = await failure(db.query('SELECT * FROM no_such_table'));
      expect([(missing as { code?: string }).code, isDatabaseBusy(missing)])
        .toEqual(['42P01', false]);
      const duplicate = await failure(db.query('INSERT INTO busy_probe VALUES (1)'));
      expect([(duplicate as { code?: string }).code, isDatabaseBusy(duplicate)])
        .toEqual(['23505', false]);
    });
  });
