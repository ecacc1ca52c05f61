/**
 * Checkout over HTTP on real PostgreSQL: holds made beforehand, then every customer pays
 * with the simulated gateway's instant method (`sim_ok`), each with its own
 * Idempotency-Key. Measures order creation, the charge, confirmation and ticket issue.
 */
import { createEvent, loadEvent } from '../src/catalog/events.js';
import { createVenue } from '../src/catalog/venues.js';
import { systemClock } from '../src/core/clock.js';
import { createHold } from '../src/holds/holds.js';
import { buildTestContext } from '../src/testing/context.js';
import { buildCustomers } from '../src/testing/factories.js';
import {
  benchPostgres, load, loadHttp, postJson, startBenchServer, type BenchSection,
} from './lib.js';

const dayMs = 24 * 3600 * 1000;

/** Runs the checkout benchmark. */
export async function run(): Promise<BenchSection> {
  const db = await benchPostgres(20);
  try {
    const ctx = buildTestContext(db);
    const venue = await createVenue(db, {
      name: 'Checkout Hall', city: 'Benchtown',
      sections: [{ key: 'FLOOR', name: 'Floor', kind: 'standing', capacity: 20_000 }],
    });
    const created = await createEvent(db, systemClock, {
      venueId: venue.venueId, title: 'Checkout Night', holdSeconds: 3600,
      startsAt: new Date(Date.now() + 30 * dayMs).toISOString(),
      onSaleAt: new Date(Date.now() - 1000).toISOString(),
      zones: [{ key: 'floor', name: 'Floor', priceCents: 4000, currency: 'EUR',
        sections: ['FLOOR'] }],
    });
    const event = await loadEvent(db, created.eventId);
    const total = 4_000;
    const fans = await buildCustomers(ctx, total);
    const holds: string[] = [];
    for (const fan of fans) {
      holds.push((await createHold(db, event, fan.customerId, { zone: 'floor', quantity: 2 }))
        .holdId);
    }
    // What this box's PostgreSQL commits per second with the bench's pool: a checkout makes
    // two commits of its own (begin, the gateway's books) plus its share of a settle batch
    // and of its two webhooks', so this bounds checkouts/s from above.
    await db.query(
      'CREATE TABLE bench_commits (n bigserial PRIMARY KEY, at timestamptz DEFAULT now())');
    const commits = await load('PostgreSQL ceiling: autocommit INSERT, pool of 20',
      { concurrency: 20, total: 1_000_000, maxMs: 3_000, warmup: 20 }, async () => {
        await db.query('INSERT INTO bench_commits DEFAULT VALUES');
        return true;
      });
    const server = await startBenchServer(db, { connections: 32 });
    try {
      const specs = holds.map((holdId, i) => postJson(`/api/v1/holds/${holdId}/checkout`,
        { paymentMethod: 'sim_ok' }, {
          authorization: `Bearer ${fans[i]?.token ?? ''}`, 'idempotency-key': `bench-${i}`,
        }));
      const cpu0 = process.cpuUsage();
      const row = await loadHttp('HTTP: checkout, 2 standing tickets, sim_ok', server.url, specs,
        { concurrency: 32, maxMs: 10_000, warmup: 20 });
      const cpu = process.cpuUsage(cpu0);
      const nodeMsPerCheckout = (cpu.user + cpu.system) / 1000 / (row.ops + 20);
      return {
        title: 'Checkout',
        description: 'POST /holds/:id/checkout with an Idempotency-Key and the simulated ' +
          'gateway answering at once: order, payment, confirmation and two ticket codes per ' +
          'request, 32 connections from a load thread, pool of 20. First, the same ' +
          "database's ceiling for bare commits: each checkout makes two of its own (its first " +
          "write, the simulated gateway's books) plus its share of settle batches.",
        rows: [
          { ...commits, notes: '20 connections, one row per commit, same database' },
          { ...row, notes: `statuses ${JSON.stringify(row.statuses)}; node CPU ` +
            `${nodeMsPerCheckout.toFixed(1)} ms per checkout (server and load thread, webhooks ` +
            'still in flight at the end not counted)' },
        ],
      };
    } finally {
      await server.close();
    }
  } finally {
    await db.close();
  }
}
