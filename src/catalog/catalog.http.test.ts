/**
 * The catalog over HTTP on both backends: creating venues and events, reading them, and
 * every kind of bad input answered with a precise 4xx that writes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { adminHeaders, buildTestApp } from '../testing/context.js';
import { bearer, buildCustomer, buildVenue, venueInput } from '../testing/factories.js';
import type { VenueInput } from './schemas.js';

const backends = await testBackends();
const dayMs = 24 * 3600 * 1000;

async function counts(db: Db): Promise<{ venues: number; events: number; tickets: number }> {
  const { rows } = await db.query<{ venues: number; events: number; tickets: number }>(
    `SELECT (SELECT count(*) FROM venues)::int AS venues,
            (SELECT count(*) FROM events)::int AS events,
            (SELECT count(*) FROM tickets)::int AS tickets`,
  );
  return rows[0] as { venues: number; events: number; tickets: number };
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`catalog over HTTP on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;
    let venueId: string;

    beforeAll(async () => {
      db = await backend.open();
      ({ app, ctx } = await buildTestApp(db));
      venueId = (await buildVenue(ctx)).venueId;
    });
    afterAll(async () => {
      await app?.close();
      await db?.close();
    });

    function eventBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
      return {
        venueId,
        title: 'Night Train',
        startsAt: new Date(Date.now() + 10 * dayMs).toISOString(),
        onSaleAt: new Date(Date.now() - 60_000).toISOString(),
        zones: [
          { key: 'seats', name: 'Seats', priceCents: 4_500, currency: 'EUR', sections: ['A'] },
          { key: 'floor', name: 'Floor', priceCents: 2_500, currency: 'EUR', sections: ['FLOOR'] },
        ],
        ...overrides,
      };
    }

    it('creates a venue and reads it back', async () => {
      const created = await app.inject({
        method: 'POST', url: '/api/v1/venues', headers: adminHeaders,
        payload: venueInput({ name: 'Roundhouse', rows: 3, seatsPerRow: 4, standing: 50 }),
      });
      expect(created.statusCode).toBe(201);
      const venue = created.json();
      expect(venue.capacity).toBe(3 * 4 + 50);
      const read = await app.inject({ url: `/api/v1/venues/${venue.venueId}` });
      expect(read.statusCode).toBe(200);
      expect(read.json().sections).toHaveLength(2);
    });

    it('keeps optional layout hints on sections and refuses malformed ones', async () => {
      const base = venueInput({ name: 'Arena', rows: 2, seatsPerRow: 3, standing: 20 });
      const [seated, standing] = base.sections as [VenueInput['sections'][number],
        VenueInput['sections'][number]];
      const hinted = {
        ...base,
        sections: [
          { ...seated, layout: { x: -12.5, y: 30, rotationDeg: -15, curve: 40 } },
          { ...standing, layout: { x: 0, y: 8, width: 24, depth: 10 } },
        ],
      };
      const created = await app.inject({
        method: 'POST', url: '/api/v1/venues', headers: adminHeaders, payload: hinted,
      });
      expect(created.statusCode).toBe(201);
      const read = (await app.inject({ url: `/api/v1/venues/${created.json().venueId}` })).json();
      expect(read.sections.map((s: { layout?: unknown }) => s.layout)).toEqual([
        { x: -12.5, y: 30, rotationDeg: -15, curve: 40 }, { x: 0, y: 8, width: 24, depth: 10 },
      ]);
      const before = await counts(db);
      for (const layout of [{ x: 0 }, { x: 0, y: 0, curve: 181 }, { x: 1e6, y: 0 },
        { x: 0, y: 0, width: 0 }, { x: 0, y: 0, scale: 2 }, { x: '1', y: 0 }]) {
        const refused = await app.inject({
          method: 'POST', url: '/api/v1/venues', headers: adminHeaders,
          payload: { ...base, sections: [{ ...seated, layout }, standing] },
        });
        expect(refused.statusCode, JSON.stringify(layout)).toBe(400);
        expect(refused.json().code).toBe('validation_failed');
      }
      expect(await counts(db)).toEqual(before);
      const list = await app.inject({ url: '/api/v1/admin/venues', headers: adminHeaders });
      expect(list.json().data[0]).toMatchObject({ venueId: created.json().venueId,
        name: 'Arena', capacity: 26 });
      expect((await app.inject({ url: '/api/v1/admin/venues' })).statusCode).toBe(401);
    });

    it('creates an event with one ticket per seat and unit, with live availability', async () => {
      const created = await app.inject({
        method: 'POST', url: '/api/v1/events', headers: adminHeaders, payload: eventBody(),
      });
      expect(created.statusCode).toBe(201);
      const event = created.json();
      expect(event.status).toBe('on_sale');
      expect(event.holdSeconds).toBe(600);
      expect(event.maxTicketsPerCustomer).toBe(8);
      expect(event.queue.enabled).toBe(false);
      expect(event.zones.map((z: { key: string; capacity: number; available: number }) =>
        [z.key, z.capacity, z.available])).toEqual([['seats', 50, 50], ['floor', 100, 100]]);
      const { rows } = await db.query<{ n: number; seats: number }>(
        `SELECT count(*)::int AS n, count(seat_id)::int AS seats FROM tickets WHERE event_id = $1`,
        [event.eventId],
      );
      expect(rows[0]).toEqual({ n: 150, seats: 50 });
    });

    it('reports held and sold from ticket rows, and an expired hold as available', async () => {
      const event = (await app.inject({
        method: 'POST', url: '/api/v1/events', headers: adminHeaders, payload: eventBody(),
      })).json();
      const claim = (sql: string, seatIds: string[]): Promise<unknown> =>
        db.query(`UPDATE tickets SET ${sql} WHERE event_id = $1 AND seat_id = ANY($2)`,
          [event.eventId, seatIds]);
      await claim(`hold_id = gen_random_uuid(), hold_expires_at = now() + interval '5 minutes'`,
        ['A-1-1', 'A-1-2']);
      await claim(`hold_id = gen_random_uuid(), hold_expires_at = now() - interval '1 second'`,
        ['A-1-3']);
      await claim('order_id = gen_random_uuid()', ['A-2-1']);
      const details = (await app.inject({ url: `/api/v1/events/${event.eventId}` })).json();
      expect(details.zones[0]).toMatchObject({ capacity: 50, held: 2, sold: 1, available: 47 });
      const map = (await app.inject({ url: `/api/v1/events/${event.eventId}/seatmap` })).json();
      const seats = new Map<string, string>();
      for (const section of map.sections) {
        for (const row of section.rows) for (const seat of row.seats) seats.set(seat.id, seat.status);
      }
      expect(seats.size).toBe(50);
      expect(seats.get('A-1-1')).toBe('held');
      expect(seats.get('A-1-3')).toBe('available');
      expect(seats.get('A-2-1')).toBe('sold');
      expect(map.sections[0]).toMatchObject({ key: 'A', kind: 'seated', zone: 'seats', available: 47 });
      expect(map.sections[1]).toMatchObject({ key: 'FLOOR', kind: 'standing', capacity: 100,
        available: 100, rows: [] });
    });

    it('answers 404 problems for unknown and malformed ids', async () => {
      for (const url of ['/api/v1/events/00000000-0000-4000-8000-000000000000',
        '/api/v1/events/not-a-uuid', '/api/v1/events/not-a-uuid/seatmap',
        '/api/v1/venues/00000000-0000-4000-8000-000000000000']) {
        const response = await app.inject({ url });
        expect(response.statusCode, url).toBe(404);
        expect(response.headers['content-type']).toContain('application/problem+json');
        expect(response.json().code).toBe('not_found');
      }
    });

    describe('bad input changes nothing', () => {
      const dupSection = venueInput();
      dupSection.sections.push({ key: 'A', name: 'Again', kind: 'standing', capacity: 5 });
      const dupRow = venueInput({ rows: 2 });
      const first = dupRow.sections[0];
      if (first?.kind === 'seated') first.rows.push({ label: '1', seats: 3 });
      const oversized = { ...venueInput(), name: 'x'.repeat(1_100_000) };

      const venueCases: [string, unknown, number, string, string | undefined][] = [
        ['duplicate section key', dupSection, 400, 'validation_failed', '/sections/2/key'],
        ['duplicate row label', dupRow, 400, 'validation_failed', '/sections/0/rows/2/label'],
        ['unknown field', { ...venueInput(), colour: 'red' }, 400, 'validation_failed',
          '/colour'],
        ['a number as a string', venueInput({ standing: '3' as unknown as number }), 400,
          'validation_failed', undefined],
        ['no sections', { ...venueInput(), sections: [] }, 400, 'validation_failed',
          '/sections'],
        ['a seat id breaking key', venueInput({ name: 'ok' , sections: [
          { key: 'A-B', name: 'Dash', kind: 'standing', capacity: 1 }] }), 400,
        'validation_failed', undefined],
        ['oversized body', oversized, 413, 'payload_too_large', undefined],
      ];
      it.each(venueCases)('venue: %s', async (_name, payload, status, code, field) => {
        const before = await counts(db);
        const response = await app.inject({
          method: 'POST', url: '/api/v1/venues', headers: adminHeaders, payload: payload as object,
        });
        expect(response.statusCode).toBe(status);
        expect(response.headers['content-type']).toContain('application/problem+json');
        const body = response.json();
        expect(body.code).toBe(code);
        if (field !== undefined) expect(body.errors?.[0]?.field ?? body.detail).toContain(field);
        expect(await counts(db)).toEqual(before);
      });

      const eventCases: [string, Record<string, unknown>, string][] = [
        ['a section left out of every zone', {
          zones: [{ key: 'seats', name: 'S', priceCents: 1, currency: 'EUR', sections: ['A'] }],
        }, '/zones'],
        ['a section in two zones', {
          zones: [
            { key: 'a', name: 'S', priceCents: 1, currency: 'EUR', sections: ['A', 'FLOOR'] },
            { key: 'b', name: 'F', priceCents: 1, currency: 'EUR', sections: ['FLOOR'] },
          ],
        }, '/zones/1/sections/0'],
        ['an unknown section', {
          zones: [{ key: 'a', name: 'S', priceCents: 1, currency: 'EUR',
            sections: ['A', 'FLOOR', 'Z'] }],
        }, '/zones/0/sections/2'],
        ['onSaleAt after startsAt', {
          onSaleAt: new Date(Date.now() + 20 * dayMs).toISOString(),
        }, '/onSaleAt'],
        ['an unknown venue', { venueId: '00000000-0000-4000-8000-000000000000' }, '/venueId'],
        ['a malformed venue id', { venueId: 'nope' }, '/venueId'],
        ['a string for an integer', { holdSeconds: '600' }, '/holdSeconds'],
        ['a hold time out of range', { holdSeconds: 7201 }, '/holdSeconds'],
        ['a bad date', { startsAt: 'tomorrow' }, '/startsAt'],
        ['mixed currencies', {
          zones: [
            { key: 'a', name: 'S', priceCents: 1, currency: 'EUR', sections: ['A'] },
            { key: 'b', name: 'F', priceCents: 1, currency: 'USD', sections: ['FLOOR'] },
          ],
        }, '/zones/1/currency'],
        ['an unknown queue setting', { queue: { enabled: true, turbo: true } }, '/queue/turbo'],
      ];
      it.each(eventCases)('event: %s', async (_name, overrides, field) => {
        const before = await counts(db);
        const response = await app.inject({
          method: 'POST', url: '/api/v1/events', headers: adminHeaders, payload: eventBody(overrides),
        });
        expect(response.statusCode).toBe(400);
        const body = response.json();
        expect(body.code).toBe('validation_failed');
        expect(body.errors[0].field).toBe(field);
        expect(await counts(db)).toEqual(before);
      });

      it('rejects prototype poisoning (and only for that)', async () => {
        // A body that is valid in every other way, so the refusal can only be the __proto__.
        const valid = '{"name":"x","city":"y","sections":[{"key":"F","name":"Floor",'
          + '"kind":"standing","capacity":10}]';
        const send = (payload: string) => app.inject({
          method: 'POST', url: '/api/v1/venues', headers: { ...adminHeaders,
            'content-type': 'application/json' }, payload });
        const before = await counts(db);
        for (const poison of ['"__proto__":{"admin":true}',
          '"constructor":{"prototype":{"admin":true}}']) {
          const response = await send(`${valid},${poison}}`);
          expect(response.statusCode, poison).toBe(400);
          expect(response.json().code).toBe('validation_failed');
          expect(({} as Record<string, unknown>).admin).toBeUndefined();
        }
        expect(await counts(db)).toEqual(before);
        // Control: the same body without the poison is accepted.
        expect((await send(`${valid}}`)).statusCode).toBe(201);
      });

      it('rejects malformed JSON and other media types', async () => {
        const broken = await app.inject({
          method: 'POST', url: '/api/v1/venues',
          headers: { ...adminHeaders, 'content-type': 'application/json' }, payload: '{"name":',
        });
        expect(broken.statusCode).toBe(400);
        expect(broken.json().code).toBe('validation_failed');
        const xml = await app.inject({
          method: 'POST', url: '/api/v1/venues',
          headers: { ...adminHeaders, 'content-type': 'application/xml' }, payload: '<venue/>',
        });
        expect(xml.statusCode).toBe(415);
        expect(xml.json().code).toBe('unsupported_media_type');
      });

      it('refuses organizer routes without the admin token', async () => {
        const before = await counts(db);
        const customer = await buildCustomer(ctx);
        const cases: [Record<string, string>, number, string][] = [
          [{}, 401, 'unauthorized'],
          [{ authorization: 'Bearer garbage' }, 401, 'unauthorized'],
          [{ authorization: 'Basic dXNlcjpwYXNz' }, 401, 'unauthorized'],
          [{ authorization: `Bearer ${ctx.secrets.adminToken}x` }, 401, 'unauthorized'],
          [bearer(customer.token), 403, 'forbidden'],
        ];
        for (const [headers, status, code] of cases) {
          for (const url of ['/api/v1/venues', '/api/v1/events']) {
            const response = await app.inject({ method: 'POST', url, headers, payload: eventBody() });
            expect(response.statusCode, `${url} ${JSON.stringify(headers)}`).toBe(status);
            expect(response.json().code).toBe(code);
          }
        }
        expect(await counts(db)).toEqual(before);
      });
    });
  });
}
