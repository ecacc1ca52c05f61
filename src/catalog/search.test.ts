/** Full-text search, filters and keyset pagination, on both backends, over HTTP. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import { buildEvent, buildVenue } from '../testing/factories.js';

const backends = await testBackends();
const dayMs = 24 * 3600 * 1000;

interface Item { eventId: string; title: string; zones: { key: string; available: number }[] }

for (const backend of backends) {
  describe.skipIf(!backend.available)(`event search on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;
    const ids: Record<string, string> = {};

    async function search(query: string): Promise<{ status: number; body: {
      data: Item[]; nextCursor: string | null; code?: string; } }> {
      const response = await app.inject({ url: `/api/v1/events?${query}` });
      return { status: response.statusCode, body: response.json() };
    }

    async function allPages(query: string, limit: number): Promise<string[]> {
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 50; page++) {
        const suffix: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
        const { status, body } = await search(`${query}&limit=${limit}${suffix}`);
        expect(status).toBe(200);
        expect(body.data.length).toBeLessThanOrEqual(limit);
        seen.push(...body.data.map((item) => item.title));
        cursor = body.nextCursor;
        if (cursor === null) return seen;
      }
      throw new Error('pagination did not end');
    }

    beforeAll(async () => {
      db = await backend.open();
      ({ app, ctx } = await buildTestApp(db));
      const lisbon = await buildVenue(ctx, { name: 'Harbour Arena', city: 'Lisbon' });
      const porto = await buildVenue(ctx, { name: 'Casa Grande', city: 'Porto' });
      const day = (n: number): string => new Date(Date.now() + n * dayMs).toISOString();
      const make = async (key: string, venue: typeof lisbon, startsAt: string,
        extra: Record<string, unknown> = {}): Promise<void> => {
        ids[key] = (await buildEvent(ctx, { venue, title: key, startsAt, ...extra })).eventId;
      };
      await make('Aurora Skies Live', lisbon, day(10), { performers: ['Aurora Skies'] });
      await make('Winter Gala', porto, day(11), {
        description: 'A night of strings; the aurora borealis projected on the ceiling.',
      });
      await make('Harbour Blues', lisbon, day(12), { performers: ['Blue Tide'] });
      await make('Cinema Concert', porto, day(13), { performers: ['The Aurora Quartet'] });
      await make('Folk at Dawn', lisbon, day(14));
      await make('Late Show', lisbon, day(40));
      await make('Cancelled Aurora', lisbon, day(15));
      await db.query('UPDATE events SET cancelled_at = now() WHERE event_id = $1',
        [ids['Cancelled Aurora']]);
    });
    afterAll(async () => {
      await app?.close();
      await db?.close();
    });

    it('ranks title and performer matches above description matches', async () => {
      const { status, body } = await search('q=aurora');
      expect(status).toBe(200);
      const titles = body.data.map((item) => item.title);
      expect(new Set(titles)).toEqual(new Set(['Aurora Skies Live', 'Cinema Concert',
        'Winter Gala']));
      expect(titles[titles.length - 1]).toBe('Winter Gala');
      expect(titles[0]).toBe('Aurora Skies Live');
    });

    it('matches venue names and cities, with stemming', async () => {
      expect((await search('q=harbour')).body.data.map((i) => i.title).sort())
        .toEqual(['Aurora Skies Live', 'Folk at Dawn', 'Harbour Blues', 'Late Show']);
      expect((await search('q=porto')).body.data.map((i) => i.title).sort())
        .toEqual(['Cinema Concert', 'Winter Gala']);
      expect((await search('q=concerts')).body.data.map((i) => i.title)).toEqual(['Cinema Concert']);
    });

    it('filters by city (any case) and start time', async () => {
      expect((await search('city=lisbon')).body.data.map((i) => i.title)).toEqual([
        'Aurora Skies Live', 'Harbour Blues', 'Folk at Dawn', 'Late Show',
      ]);
      const from = new Date(Date.now() + 11.5 * dayMs).toISOString();
      const to = new Date(Date.now() + 20 * dayMs).toISOString();
      const ranged = await search(`from=${from}&to=${to}`);
      expect(ranged.body.data.map((i) => i.title)).toEqual([
        'Harbour Blues', 'Cinema Concert', 'Folk at Dawn',
      ]);
    });

    it('excludes cancelled events', async () => {
      const titles = (await search('q=cancelled')).body.data.map((i) => i.title);
      expect(titles).toEqual([]);
    });

    it('attaches per-zone availability to each result', async () => {
      const { body } = await search('q=blues');
      expect(body.data[0]?.zones.map((z) => [z.key, z.available])).toEqual([
        ['seats', 50], ['floor', 100],
      ]);
    });

    it('pages without gaps or repeats, ranked and unranked', async () => {
      const unranked = await allPages('city=Lisbon', 1);
      expect(unranked).toEqual(['Aurora Skies Live', 'Harbour Blues', 'Folk at Dawn', 'Late Show']);
      const everything = (await search('limit=100')).body.data.map((i) => i.title);
      expect(await allPages('', 2)).toEqual(everything);
      const ranked = (await search('q=aurora&limit=100')).body.data.map((i) => i.title);
      expect(await allPages('q=aurora', 1)).toEqual(ranked);
    });

    it('pages correctly through many events that tie on start time and rank', async () => {
      const venue = await buildVenue(ctx, { name: 'Tie Hall', city: 'Tieville', rows: 1,
        seatsPerRow: 1, standing: 1 });
      const startsAt = new Date(Date.now() + 50 * dayMs).toISOString();
      for (let i = 0; i < 7; i++) {
        await buildEvent(ctx, { venue, title: `Tied Event ${i}`, startsAt });
      }
      const pages = await allPages('q=tied', 3);
      expect(pages).toHaveLength(7);
      expect(new Set(pages).size).toBe(7);
      const plain = await allPages('city=Tieville', 2);
      expect(new Set(plain).size).toBe(7);
    });

    it.each([
      ['limit=0'], ['limit=101'], ['limit=abc'], ['cursor=garbage'], ['from=yesterday'],
      ['colour=red'], [`from=${new Date(Date.now() + 5 * dayMs).toISOString()}&to=${new Date(
        Date.now() + dayMs).toISOString()}`],
    ])('rejects %s with a 400 problem', async (query) => {
      const { status, body } = await search(query);
      expect(status).toBe(400);
      expect(body.code).toBe('validation_failed');
    });

    it('rejects a cursor from another kind of search', async () => {
      const first = await search('q=aurora&limit=1');
      expect(first.body.nextCursor).not.toBeNull();
      const misuse = await search(`limit=1&cursor=${first.body.nextCursor}`);
      expect(misuse.status).toBe(400);
    });
  });
}
