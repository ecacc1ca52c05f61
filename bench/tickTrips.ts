/**
 * `npx tsx bench/tickTrips.ts [fans] [ticks] [maxActiveShoppers] [tickets] [admitPerMinute]`:
 * the admission tick on PostgreSQL, one line mid-sale: round trips and commits per tick
 * (BEGIN and COMMIT of a transaction counted) and the tick's time per call, by the
 * database clock as in production. Ticks run back to back, so each admits the few fans
 * its credit earned since the previous one, and the line's figures (tickets, holds,
 * slots) are read every time, as on a live on-sale.
 */
import { randomUUID } from 'node:crypto';

import { createEvent, loadEvent } from '../src/catalog/events.js';
import { createVenue } from '../src/catalog/venues.js';
import { systemClock } from '../src/core/clock.js';
import { tickLine } from '../src/queue/admission.js';
import { joinLine } from '../src/queue/line.js';
import type { Db, Queryable } from '../src/storage/index.js';
import { benchPostgres, percentile } from './lib.js';

interface Tally { statements: number; commits: number }

function counted(db: Db, tally: Tally): Db {
  const wrap = (q: Queryable): Queryable => ({
    query: (sql, params) => {
      tally.statements++;
      return q.query(sql, params);
    },
    exec: (sql) => q.exec(sql),
  });
  return {
    ...db,
    query: (sql, params) => {
      tally.statements++;
      tally.commits++;
      return db.query(sql, params);
    },
    tx: (work, options) => db.tx(async (tx) => {
      tally.statements += 2; // BEGIN, COMMIT
      tally.commits++;
      return await work(wrap(tx));
    }, options),
  };
}

const fans = Number(process.argv[2] ?? 20_000);
const ticks = Number(process.argv[3] ?? 300);
const maxActive = Number(process.argv[4] ?? 100_000);
const capacity = Number(process.argv[5] ?? 5_000);
const admitPerMinute = Number(process.argv[6] ?? 60_000);
const raw = await benchPostgres(4);
const tally: Tally = { statements: 0, commits: 0 };
const db = counted(raw, tally);
try {
  const venue = await createVenue(raw, { name: 'Tick Hall', city: 'Benchtown',
    sections: [{ key: 'FLOOR', name: 'Floor', kind: 'standing', capacity }] });
  const created = await createEvent(raw, systemClock, {
    venueId: venue.venueId, title: 'Ticks', holdSeconds: 600,
    startsAt: new Date(Date.now() + 86_400_000).toISOString(),
    onSaleAt: new Date(Date.now() - 1000).toISOString(),
    zones: [{ key: 'floor', name: 'Floor', priceCents: 4000, currency: 'EUR',
      sections: ['FLOOR'] }],
    queue: { enabled: true, admitPerMinute, maxActiveShoppers: maxActive,
      passSeconds: 900 },
  });
  const event = await loadEvent(raw, created.eventId);
  const ids = Array.from({ length: fans }, () => randomUUID());
  await raw.query(
    `INSERT INTO customers (customer_id, email, name, password_hash)
     SELECT c, c::text || '@bench.example', 'Fan', 'x' FROM unnest($1::uuid[]) AS x(c)`, [ids]);
  for (let i = 0; i < ids.length; i += 500) {
    await joinLine(raw, event, ids.slice(i, i + 500), undefined);
  }
  await raw.query('ANALYZE');
  // Warm up: the first tick admits the first second's credit; plans get cached.
  for (let i = 0; i < 20; i++) await tickLine(raw, event, { token: 1, claimGraceSeconds: 60 });
  tally.statements = 0;
  tally.commits = 0;
  const times: number[] = [];
  let admitted = 0;
  for (let i = 0; i < ticks; i++) {
    const t0 = performance.now();
    const outcome = await tickLine(db, event, { token: 1, claimGraceSeconds: 60 });
    times.push(performance.now() - t0);
    if (outcome.kind !== 'ticked') throw new Error(`tick ${outcome.kind}`);
    admitted += outcome.admitted.length;
  }
  times.sort((a, b) => a - b);
  const mean = times.reduce((sum, t) => sum + t, 0) / times.length;
  console.log(`${ticks} ticks over a line of ${fans} fans (at most ${maxActive} shoppers), ` +
    `${admitted} admitted`);
  console.log(`per tick: ${(tally.statements / ticks).toFixed(1)} round trips, ` +
    `${(tally.commits / ticks).toFixed(1)} commits`);
  console.log(`time per tick: mean ${mean.toFixed(2)} ms, p50 ${percentile(times, 50).toFixed(2)}` +
    ` ms, p99 ${percentile(times, 99).toFixed(2)} ms`);
} finally {
  await raw.close();
}
