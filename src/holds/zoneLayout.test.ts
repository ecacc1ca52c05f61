/**
 * A standing zone's layout (whether it is seated, its ticket range) is read once per zone
 * however many first requests arrive together: at an on-sale every fan's first hold misses
 * the node's cache at the same moment, and one read per request put a scan of the zone's
 * tickets per fan ahead of the hold batches (on PGlite, on its only connection).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEvent } from '../catalog/events.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { buildEvent, buildVenue, insertCustomerRows } from '../testing/factories.js';
import { createHold } from './holds.js';

const backends = await testBackends();

for (const backend of backends) {
  describe.skipIf(!backend.available)(`zone layout reads on ${backend.name}`, () => {
    let db: Db;
    let layoutReads = 0;
    /** `db` with the layout reads counted. */
    let counting: Db;

    beforeAll(async () => {
      db = await backend.open({ poolMax: 20 });
      counting = new Proxy(db, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver) as unknown;
          if (prop !== 'query' || typeof value !== 'function') return value;
          return (sql: string, params?: unknown[]) => {
            if (sql.includes('bool_and(seat_id IS NOT NULL) AS seated')) layoutReads += 1;
            return (value as (s: string, p?: unknown[]) => unknown).call(target, sql, params);
          };
        },
      });
    });
    afterAll(async () => {
      await db?.close();
    });

    it('thirty first holds of a standing zone, sent together, read its layout once', async () => {
      const ctx = buildTestContext(db);
      const venue = await buildVenue(ctx, { standing: 200 });
      const event = await loadEvent(db, (await buildEvent(ctx, { venue })).eventId);
      const zone = event.zones.find((candidate) => candidate.key !== 'seats');
      if (zone === undefined) throw new Error('assertion failed: no standing zone');
      const fans = await insertCustomerRows(db, 30);
      layoutReads = 0;
      const holds = await Promise.all(fans.map((fan) =>
        createHold(counting, event, fan, { zone: zone.key, quantity: 2 })));
      expect(holds.map((hold) => hold.items.length)).toEqual(fans.map(() => 2));
      expect(new Set(holds.flatMap((hold) => hold.items.map((item) => item.ticketNo))).size)
        .toBe(60);
      expect(layoutReads).toBe(1);
      // Cached from then on.
      await createHold(counting, event, (await insertCustomerRows(db, 1))[0] as string,
        { zone: zone.key, quantity: 1 });
      expect(layoutReads).toBe(1);
    });
  });
}
