/**
 * The demo data an empty embedded install starts with: an arena with a lower and an upper
 * bowl (rows lengthen towards the back, as in a real bowl) and a standing floor, and an
 * event on sale now, so `npm start` shows a real on-sale at once.
 */
import type { Clock } from '../core/clock.js';
import type { Db } from '../storage/index.js';
import { createEvent } from './events.js';
import type { SectionInput, VenueInput } from './schemas.js';
import { createVenue } from './venues.js';

const dayMs = 24 * 3600 * 1000;

function bowlSection(key: string, name: string, rows: number, firstRowSeats: number): SectionInput {
  return {
    key, name, kind: 'seated',
    rows: Array.from({ length: rows }, (_, i) => ({ label: String(i + 1), seats: firstRowSeats + i })),
  };
}

/** The demo venue: 8 lower-bowl and 6 upper-bowl sections (8,010 seats) and a 2,500 floor. */
export function demoVenue(): VenueInput {
  const lower = [101, 102, 103, 104, 105, 106, 107, 108].map((n) =>
    bowlSection(`L${n}`, `Lower ${n}`, 20, 22));
  const upper = [201, 202, 203, 204, 205, 206].map((n) =>
    bowlSection(`U${n}`, `Upper ${n}`, 15, 26));
  return {
    name: 'Harbour Arena',
    city: 'Lisbon',
    sections: [{ key: 'FLOOR', name: 'Floor (standing)', kind: 'standing', capacity: 2_500 },
      ...lower, ...upper],
  };
}

/** Seeds the demo venue and events when the database has no events; returns the on-sale one. */
export async function seedDemo(db: Db, clock: Clock): Promise<string | undefined> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM events');
  if ((rows[0]?.n ?? 0) > 0) return undefined;
  const venue = await createVenue(db, demoVenue());
  const now = clock.nowMs();
  const zones = [
    { key: 'floor', name: 'Floor', priceCents: 8_900, currency: 'EUR', sections: ['FLOOR'] },
    {
      key: 'lower_centre', name: 'Lower bowl, centre', priceCents: 12_900, currency: 'EUR',
      sections: ['L103', 'L104', 'L105', 'L106'],
    },
    {
      key: 'lower_side', name: 'Lower bowl, side', priceCents: 9_900, currency: 'EUR',
      sections: ['L101', 'L102', 'L107', 'L108'],
    },
    {
      key: 'upper', name: 'Upper bowl', priceCents: 5_900, currency: 'EUR',
      sections: ['U201', 'U202', 'U203', 'U204', 'U205', 'U206'],
    },
  ];
  const onSale = await createEvent(db, clock, {
    venueId: venue.venueId,
    title: 'Aurora Skies — World Tour',
    description: 'The stadium tour of the year comes to the harbour. Doors open 18:30.',
    performers: ['Aurora Skies', 'The Night Ferries'],
    startsAt: new Date(now + 60 * dayMs).toISOString(),
    onSaleAt: new Date(now - 60_000).toISOString(),
    zones,
  });
  await createEvent(db, clock, {
    venueId: venue.venueId,
    title: 'Lisbon Jazz Nights',
    description: 'An evening of big-band jazz in the round.',
    performers: ['Tejo Big Band'],
    startsAt: new Date(now + 90 * dayMs).toISOString(),
    onSaleAt: new Date(now + 7 * dayMs).toISOString(),
    zones,
    queue: { enabled: true, admitPerMinute: 600, maxActiveShoppers: 500, passSeconds: 900 },
  });
  return onSale.eventId;
}
