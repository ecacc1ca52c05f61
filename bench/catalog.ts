/**
 * Catalog benchmarks: creating a 50,000-ticket event (bulk ticket materialization) and
 * reading its seat map, on PostgreSQL and on embedded PGlite; event search over HTTP.
 */
import { performance } from 'node:perf_hooks';
import { createEvent } from '../src/catalog/events.js';
import { createVenue } from '../src/catalog/venues.js';
import type { VenueInput } from '../src/catalog/schemas.js';
import { systemClock } from '../src/core/clock.js';
import { getSeatMap } from '../src/inventory/seatmap.js';
import type { Db } from '../src/storage/index.js';
import {
  benchPglite, benchPostgres, load, percentile, request, startBenchServer,
  type BenchRow, type BenchSection,
} from './lib.js';

const dayMs = 24 * 3600 * 1000;

/** 40 sections × 25 rows × 50 seats = 50,000 seats. */
function stadium(): VenueInput {
  return {
    name: 'Bench Stadium', city: 'Benchtown',
    sections: Array.from({ length: 40 }, (_, s) => ({
      key: `S${s + 1}`, name: `Section ${s + 1}`, kind: 'seated' as const,
      rows: Array.from({ length: 25 }, (_, r) => ({ label: String(r + 1), seats: 50 })),
    })),
  };
}

async function createBigEvent(db: Db, venueId: string): Promise<{ eventId: string; ms: number }> {
  const t0 = performance.now();
  const event = await createEvent(db, systemClock, {
    venueId, title: 'Bench Night', startsAt: new Date(Date.now() + 30 * dayMs).toISOString(),
    onSaleAt: new Date(Date.now() - 1000).toISOString(),
    zones: [{ key: 'all', name: 'All', priceCents: 5000, currency: 'EUR',
      sections: Array.from({ length: 40 }, (_, s) => `S${s + 1}`) }],
  });
  return { eventId: event.eventId, ms: performance.now() - t0 };
}

async function creationRow(db: Db, label: string, repeats: number): Promise<{
  row: BenchRow; eventId: string;
}> {
  const venue = await createVenue(db, stadium());
  const times: number[] = [];
  let eventId = '';
  for (let i = 0; i < repeats; i++) {
    const created = await createBigEvent(db, venue.venueId);
    times.push(created.ms);
    eventId = created.eventId;
  }
  times.sort((a, b) => a - b);
  const p50 = percentile(times, 50);
  return {
    eventId,
    row: {
      name: `create a 50,000-ticket event (${label})`,
      opsPerSec: 1000 / p50, p50Ms: p50, p99Ms: percentile(times, 99), ops: repeats, errors: 0,
      notes: `${Math.round(50_000 / (p50 / 1000)).toLocaleString('en-US')} tickets/s`,
    },
  };
}

async function seatMapDirect(db: Db, eventId: string, label: string): Promise<BenchRow> {
  const row = await load(`seat map of 50,000 seats, no HTTP (${label})`,
    { concurrency: 1, total: 30, warmup: 3 }, async () => {
      const map = await getSeatMap(db, eventId);
      return map.sections.length === 40;
    });
  return { ...row, notes: 'one statement + building the reply' };
}

async function seatMapHttp(db: Db, eventId: string, gzip: boolean): Promise<BenchRow> {
  const server = await startBenchServer(db, { connections: 8 });
  let bytes = 0;
  try {
    const row = await load(`seat map over HTTP${gzip ? ', gzip' : ''} (PostgreSQL)`,
      { concurrency: 8, total: 200, warmup: 4 }, async () => {
        const response = await server.client.request({
          method: 'GET', path: `/api/v1/events/${eventId}/seatmap`,
          headers: gzip ? { 'accept-encoding': 'gzip' } : {},
        });
        const body = Buffer.from(await response.body.arrayBuffer());
        bytes = body.length;
        return response.statusCode === 200;
      });
    return { ...row, notes: `${Math.round(bytes / 1024)} KiB per reply, 8 clients` };
  } finally {
    await server.close();
  }
}

async function searchHttp(db: Db): Promise<BenchRow> {
  const venue = await createVenue(db, {
    name: 'Small Club', city: 'Lisbon',
    sections: [{ key: 'F', name: 'Floor', kind: 'standing', capacity: 200 }],
  });
  const words = ['aurora', 'harbour', 'jazz', 'night', 'tour', 'strings', 'dawn', 'blue'];
  for (let i = 0; i < 300; i++) {
    await createEvent(db, systemClock, {
      venueId: venue.venueId, title: `${words[i % 8]} ${words[(i * 3) % 8]} ${i}`,
      description: `An evening of ${words[(i * 5) % 8]} music.`, performers: [`Band ${i}`],
      startsAt: new Date(Date.now() + (i + 1) * dayMs).toISOString(),
      onSaleAt: new Date(Date.now()).toISOString(),
      zones: [{ key: 'f', name: 'Floor', priceCents: 2000, currency: 'EUR', sections: ['F'] }],
    });
  }
  const server = await startBenchServer(db, { connections: 16 });
  try {
    return {
      ...(await load('search "aurora night", 20 per page, over HTTP (PostgreSQL)',
        { concurrency: 16, total: 3_000, warmup: 20 }, async () => {
          const { status } = await request(server.client, 'GET',
            '/api/v1/events?q=aurora%20night&limit=20');
          return status === 200;
        })),
      notes: '300 events, per-zone availability attached, 16 clients',
    };
  } finally {
    await server.close();
  }
}

/** Runs the catalog benchmarks. */
export async function run(): Promise<BenchSection> {
  const rows: BenchRow[] = [];
  const postgres = await benchPostgres();
  try {
    const created = await creationRow(postgres, 'PostgreSQL', 3);
    rows.push(created.row);
    rows.push(await seatMapDirect(postgres, created.eventId, 'PostgreSQL'));
    rows.push(await seatMapHttp(postgres, created.eventId, false));
    rows.push(await seatMapHttp(postgres, created.eventId, true));
    rows.push(await searchHttp(postgres));
  } finally {
    await postgres.close();
  }
  const pglite = await benchPglite();
  try {
    const created = await creationRow(pglite, 'embedded PGlite', 2);
    rows.push(created.row);
    rows.push(await seatMapDirect(pglite, created.eventId, 'embedded PGlite'));
  } finally {
    await pglite.close();
  }
  return {
    title: 'Catalog: event creation, seat map, search',
    description: 'Creating an event writes one ticket row per seat in batched unnest() ' +
      'inserts. The seat map is one statement returning one status character per ticket.',
    rows,
  };
}
