/**
 * A database blip while a keyed request fails leaves its record 'running' (the clean-up
 * could not reach the database either). A retry with the same key must hear "retry later"
 * (503, retryable, Retry-After) rather than a final 409 that tells the client to give up.
 */
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '../core/errors.js';
import { errorsPlugin } from '../http/plugins/errors.js';
import type { Db, Queryable } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { buildCustomer } from '../testing/factories.js';
import { runIdempotent } from './store.js';

const backends = await testBackends();

/** `db`, except that while `down` every statement fails as a dropped connection would. */
function blippy(db: Db): { db: Queryable; down: (on: boolean) => void } {
  let isDown = false;
  const fail = (): never => {
    throw Object.assign(new Error('Connection terminated unexpectedly'), { code: '57P01' });
  };
  return {
    db: {
      query: async (sql, params) => (isDown ? fail() : await db.query(sql, params)),
      exec: async (sql) => (isDown ? fail() : await db.exec(sql)),
    },
    down: (on) => {
      isDown = on;
    },
  };
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`idempotency after a blip on ${backend.name}`, () => {
    let db: Db;
    beforeAll(async () => {
      db = await backend.open();
    });
    afterAll(async () => {
      await db?.close();
    });

    it('a retry meets the orphaned running record with a retryable 503', async () => {
      const fan = await buildCustomer(buildTestContext(db));
      const scope = { customerId: fan.customerId, key: 'blip-1', fingerprint: 'fp' };
      const link = blippy(db);
      const first = runIdempotent(link.db, scope, async () => {
        link.down(true); // the connection drops mid-request, and stays down for the clean-up
        throw new Error('Connection terminated unexpectedly');
      });
      await expect(first).rejects.toThrow('Connection terminated');
      link.down(false);
      const { rows } = await db.query<{ state: string }>(
        'SELECT state FROM idempotency_keys WHERE customer_id = $1 AND idem_key = $2',
        [scope.customerId, scope.key]);
      expect(rows).toEqual([{ state: 'running' }]);

      const retry = await runIdempotent(db, scope, async () => ({ status: 201, body: {} }), 200)
        .catch((error: unknown) => error);
      expect(retry).toBeInstanceOf(DomainError);
      const refused = retry as DomainError;
      expect(refused.code).toBe('service_unavailable');
      expect(refused.status).toBe(503);
      expect(refused.retryable).toBe(true);
      const retryAfter = refused.extra.retryAfterSeconds as number;
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(30);
    });
  });
}

describe('Retry-After on retryable refusals', () => {
  it('is sent with any problem that says when to retry', async () => {
    const app = Fastify();
    await app.register(errorsPlugin);
    app.get('/busy', async () => {
      throw new DomainError('service_unavailable', 'later', { retryAfterSeconds: 7 });
    });
    const response = await app.inject({ method: 'GET', url: '/busy' });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('7');
    expect(response.json()).toMatchObject({ code: 'service_unavailable', retryAfterSeconds: 7 });
    await app.close();
  });
});
