import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import type { Db, Queryable } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { buildEvent } from '../testing/factories.js';
import { SeatMapCache } from './seatmap-cache.js';

const [pglite] = await testBackends();

describe('seat map cache', () => {
  let db: Db;
  let eventId: string;
  let reads = 0;
  let counting: Queryable;

  beforeAll(async () => {
    db = await (pglite as NonNullable<typeof pglite>).open();
    eventId = (await buildEvent(buildTestContext(db))).eventId;
    counting = {
      query: (sql, params) => {
        reads += 1;
        return db.query(sql, params);
      },
      exec: (sql) => db.exec(sql),
    };
  });
  afterAll(async () => db?.close());

  it('shares one read among concurrent readers and serves the same bytes gzipped', async () => {
    const cache = new SeatMapCache(counting, new ManualClock());
    reads = 0;
    const maps = await Promise.all(Array.from({ length: 20 }, () => cache.get(eventId)));
    expect(reads).toBe(1);
    const first = maps[0] as NonNullable<(typeof maps)[0]>;
    expect(gunzipSync(first.gzipped).toString()).toBe(first.json);
    expect(JSON.parse(first.json).sections).toHaveLength(2);
  });

  it('re-reads once the entry is older than maxAgeMs, so staleness is bounded', async () => {
    const clock = new ManualClock();
    const cache = new SeatMapCache(counting, clock, { maxAgeMs: 250 });
    reads = 0;
    await cache.get(eventId);
    clock.advance(249);
    await cache.get(eventId);
    expect(reads).toBe(1);
    await db.query(`UPDATE tickets SET order_id = gen_random_uuid()
                     WHERE event_id = $1 AND seat_id = 'A-1-1'`, [eventId]);
    clock.advance(1);
    const fresh = JSON.parse((await cache.get(eventId)).json);
    expect(reads).toBe(2);
    expect(fresh.sections[0].rows[0].seats[0]).toEqual({ id: 'A-1-1', number: 1, status: 'sold' });
  });

  it('does not cache failures and bounds the number of events kept', async () => {
    const cache = new SeatMapCache(counting, new ManualClock(), { maxEvents: 1 });
    const missing = '00000000-0000-4000-8000-000000000000';
    await expect(cache.get(missing)).rejects.toMatchObject({ code: 'not_found' });
    reads = 0;
    await expect(cache.get(missing)).rejects.toMatchObject({ code: 'not_found' });
    expect(reads).toBe(1);
    await cache.get(eventId);
    reads = 0;
    await cache.get(eventId);
    expect(reads).toBe(0);
  });
});
