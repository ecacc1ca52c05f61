/**
 * `npx tsx bench/checkoutTrips.ts [n]`: counts database round trips and commits per
 * checkout over real HTTP on PostgreSQL, webhooks the simulated gateway sends back to the
 * node included. Checkouts run one at a time, so the counts are per request, not per batch.
 */
import { createEvent, loadEvent } from '../src/catalog/events.js';
import { createVenue } from '../src/catalog/venues.js';
import { systemClock } from '../src/core/clock.js';
import { createHold } from '../src/holds/holds.js';
import type { Db, Queryable } from '../src/storage/index.js';
import { buildTestContext } from '../src/testing/context.js';
import { buildCustomers } from '../src/testing/factories.js';
import { benchPostgres, request, startBenchServer } from './lib.js';

interface Tally {
  statements: number; commits: number; byText: Map<string, number>; msByText: Map<string, number>;
}

function counted(db: Db, tally: Tally): Db {
  const note = async <T>(sql: string, run: () => Promise<T>): Promise<T> => {
    tally.statements++;
    const key = sql.replace(/\s+/g, ' ').trim().slice(0, 90);
    tally.byText.set(key, (tally.byText.get(key) ?? 0) + 1);
    const t0 = performance.now();
    try {
      return await run();
    } finally {
      tally.msByText.set(key, (tally.msByText.get(key) ?? 0) + performance.now() - t0);
    }
  };
  const wrap = (q: Queryable): Queryable => ({
    query: (sql, params) => note(sql, () => q.query(sql, params)),
    exec: (sql) => q.exec(sql),
  });
  return {
    ...db,
    query: (sql, params) => {
      tally.commits++;
      return note(sql, () => db.query(sql, params));
    },
    tx: (work, options) => db.tx(async (tx) => {
      tally.statements += 2; // BEGIN, COMMIT
      tally.commits++;
      return await work(wrap(tx));
    }, options),
  };
}

const n = Number(process.argv[2] ?? 20);
const raw = await benchPostgres(20);
const tally: Tally = { statements: 0, commits: 0, byText: new Map(), msByText: new Map() };
const db = counted(raw, tally);
try {
  const ctx = buildTestContext(raw);
  const venue = await createVenue(raw, { name: 'Trips Hall', city: 'Benchtown',
    sections: [{ key: 'FLOOR', name: 'Floor', kind: 'standing', capacity: 20_000 }] });
  const created = await createEvent(raw, systemClock, {
    venueId: venue.venueId, title: 'Trips', holdSeconds: 3600,
    startsAt: new Date(Date.now() + 86_400_000).toISOString(),
    onSaleAt: new Date(Date.now() - 1000).toISOString(),
    zones: [{ key: 'floor', name: 'Floor', priceCents: 4000, currency: 'EUR', sections: ['FLOOR'] }],
  });
  const event = await loadEvent(raw, created.eventId);
  const fans = await buildCustomers(ctx, n);
  const holds: string[] = [];
  for (const fan of fans) {
    holds.push((await createHold(raw, event, fan.customerId, { zone: 'floor', quantity: 2 })).holdId);
  }
  const server = await startBenchServer(db, { connections: 4 });
  try {
    const counts = { webhooks: 0 };
    const scans = async () => (await raw.query<{ seq: number; rel: string }>(
      `SELECT relname AS rel, seq_scan::int AS seq FROM pg_stat_user_tables
        WHERE relname IN ('tickets', 'hold_items', 'orders', 'payments', 'holds')
        ORDER BY relname`)).rows;
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // statistics flushed
    const scansBefore = await scans();
    for (let i = 0; i < n; i++) {
      const reply = await request(server.client, 'POST', `/api/v1/holds/${holds[i]}/checkout`,
        { paymentMethod: 'sim_ok' }, { authorization: `Bearer ${fans[i]?.token ?? ''}`,
          'idempotency-key': `trips-${i}` });
      if (reply.status !== 201) throw new Error(`checkout answered ${reply.status}`);
    }
    // Let the gateway's webhooks arrive and settle (they are counted too).
    for (let waited = 0; waited < 100; waited++) {
      const { rows } = await raw.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM provider_events');
      counts.webhooks = rows[0]?.n ?? 0;
      if (counts.webhooks >= n) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const scansAfter = await scans();
    console.log(`${n} checkouts, ${counts.webhooks} distinct webhook events recorded`);
    console.log(`sequential scans meanwhile: ${scansAfter.map((after) =>
      `${after.rel} ${after.seq - (scansBefore.find((b) => b.rel === after.rel)?.seq ?? 0)}`)
      .join(', ')}`);
    console.log(`per checkout: ${(tally.statements / n).toFixed(1)} round trips, ` +
      `${(tally.commits / n).toFixed(1)} commits`);
    for (const [text, count] of [...tally.byText].sort((a, b) => b[1] - a[1])) {
      const ms = (tally.msByText.get(text) ?? 0) / count;
      console.log(`${(count / n).toFixed(2).padStart(6)} ×${ms.toFixed(1).padStart(6)} ms  ${text}`);
    }
  } finally {
    await server.close();
  }
} finally {
  await raw.close();
}
