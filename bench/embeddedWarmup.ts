/**
 * A concurrent, uncounted warm-up for the embedded hold benchmarks. A node runs for hours; a
 * few seconds measured from a cold start measure V8's and PGlite's WebAssembly tier-up
 * (compilation on V8's helper threads) as much as holds. So before the measured window the
 * same route takes a few thousand holds, single seats and standing ×2 interleaved, at the
 * measured concurrency, on an event of a small venue of its own (its tickets never meet the
 * measured event's). Bounded in requests and seconds.
 */
import { createEvent } from '../src/catalog/events.js';
import { createVenue } from '../src/catalog/venues.js';
import { systemClock } from '../src/core/clock.js';
import type { Db } from '../src/storage/index.js';
import { loadHttp, postJson, type BenchRow } from './lib.js';

const dayMs = 24 * 3600 * 1000;

/** Warm-up size: single-seat and standing requests (each half), and the time cap. */
export const warmupHolds = 6_000;
const warmupMs = 6_000;

/**
 * Holds `size.holds` times (default `warmupHolds`, at most `size.ms`) over HTTP on a warm-up
 * event (seats and standing for all of them) with `concurrency` connections, one customer per
 * request from `fans`; returns the run's row so callers can print it (never a result).
 */
export async function warmEmbeddedHolds(
  db: Db, url: string, fans: readonly { token: string }[], concurrency: number,
  size: { holds: number; ms: number } = { holds: warmupHolds, ms: warmupMs },
): Promise<BenchRow> {
  const sections = Math.ceil(size.holds / 2 / 1_250);
  const venue = await createVenue(db, {
    name: 'Warm-up Hall', city: 'Benchtown',
    sections: [
      ...Array.from({ length: sections }, (_, s) => ({
        key: `W${s + 1}`, name: `Warm ${s + 1}`, kind: 'seated' as const,
        rows: Array.from({ length: 25 }, (_, r) => ({ label: String(r + 1), seats: 50 })),
      })),
      { key: 'WFLOOR', name: 'Warm floor', kind: 'standing' as const,
        capacity: size.holds + 2_000 },
    ],
  });
  const created = await createEvent(db, systemClock, {
    venueId: venue.venueId, title: 'Warm-up', maxTicketsPerCustomer: 50,
    startsAt: new Date(Date.now() + 30 * dayMs).toISOString(),
    onSaleAt: new Date(Date.now() - 1000).toISOString(), holdSeconds: 3600,
    zones: [
      { key: 'z1', name: 'Z1', priceCents: 9000, currency: 'EUR',
        sections: Array.from({ length: sections }, (_, s) => `W${s + 1}`) },
      { key: 'floor', name: 'Floor', priceCents: 2000, currency: 'EUR', sections: ['WFLOOR'] },
    ],
  });
  const seats: string[] = [];
  for (let s = 1; s <= sections; s++) {
    for (let r = 1; r <= 25; r++) for (let n = 1; n <= 50; n++) seats.push(`W${s}-${r}-${n}`);
  }
  seats.sort(() => Math.random() - 0.5);
  const path = `/api/v1/events/${created.eventId}/holds`;
  const specs = Array.from({ length: size.holds }, (_, i) => {
    const body = i % 2 === 0 ? { seats: [seats[i / 2] as string] }
      : { zone: 'floor', quantity: 2 };
    const fan = fans[i % fans.length] as { token: string };
    return postJson(path, body, { authorization: `Bearer ${fan.token}` });
  });
  const row = await loadHttp('embedded warm-up', url, specs,
    { concurrency, maxMs: size.ms });
  if (row.errors > 0) {
    throw new Error(`bench: the warm-up was refused ${JSON.stringify(row.statuses)}`);
  }
  return row;
}
