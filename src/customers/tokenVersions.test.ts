import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../core/clock.js';
import type { Db, Queryable } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { buildCustomers } from '../testing/factories.js';
import { TokenVersions } from './tokenVersions.js';

const backends = await testBackends();

/** The database, counting the statements that read token versions. */
function counting(db: Db): { db: Queryable; reads: () => number } {
  let reads = 0;
  return {
    db: {
      query: async (sql, params) => {
        if (sql.includes('token_version FROM customers')) reads++;
        return await db.query(sql, params);
      },
      exec: async (sql) => await db.exec(sql),
    } as Queryable,
    reads: () => reads,
  };
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`token versions on ${backend.name}`, () => {
    let db: Db;
    let ids: string[];
    beforeAll(async () => {
      db = await backend.open();
      ids = (await buildCustomers(buildTestContext(db), 40)).map((c) => c.customerId);
      await db.query('UPDATE customers SET token_version = 3 WHERE customer_id = $1', [ids[0]]);
    });
    afterAll(async () => db?.close());

    it('reads the customers missed while a read is in flight in one statement', async () => {
      const probe = counting(db);
      const versions = new TokenVersions(probe.db, systemClock);
      const unknown = randomUUID();
      const asked = [...ids, ids[1] as string, unknown];
      const got = await Promise.all(asked.map((id) => versions.current(id)));
      expect(got[0]).toBe(3);
      expect(got.slice(1, ids.length).every((v) => v === 0)).toBe(true);
      expect(got[asked.length - 1]).toBe(0); // unknown customer: nothing to revoke
      // The first miss is read at once, everyone missed meanwhile in the next statement.
      expect(probe.reads()).toBeLessThanOrEqual(2);
      // Cached now: no further read.
      expect(await versions.current(ids[0] as string)).toBe(3);
      expect(probe.reads()).toBeLessThanOrEqual(2);
    });

    it('control: misses asked one after another are one statement each', async () => {
      const probe = counting(db);
      const versions = new TokenVersions(probe.db, systemClock);
      for (const id of ids.slice(0, 5)) await versions.current(id);
      expect(probe.reads()).toBe(5);
    });

    it('a revocation during a read is not undone by the read', async () => {
      const versions = new TokenVersions(db, systemClock);
      const customer = ids[2] as string;
      const reading = versions.current(customer);
      const revoked = await versions.revokeAll(customer);
      await reading;
      expect(await versions.current(customer)).toBe(revoked);
    });
  });
}
