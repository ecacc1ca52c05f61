/** The standing claim's wrap-around scan, on both backends. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { buildEvent, buildVenue } from '../testing/factories.js';
import { claimAnyUnits } from './claim.js';

const backends = await testBackends();

for (const backend of backends) {
  describe.skipIf(!backend.available)(`claimAnyUnits on ${backend.name}`, () => {
    let db: Db;
    let ctx: AppContext;

    beforeAll(async () => {
      db = await backend.open();
      ctx = buildTestContext(db);
    });
    afterAll(async () => {
      await db?.close();
    });

    async function floor(): Promise<{ eventId: string; ticketNos: number[] }> {
      const venue = await buildVenue(ctx, { rows: 1, seatsPerRow: 2, standing: 10 });
      const { eventId } = await buildEvent(ctx, { venue });
      const { rows } = await db.query<{ ticket_no: number }>(
        `SELECT ticket_no FROM tickets WHERE event_id = $1 AND zone_key = 'floor'
          ORDER BY ticket_no`, [eventId]);
      return { eventId, ticketNos: rows.map((row) => row.ticket_no) };
    }

    const claim = (eventId: string, quantity: number, start: number) => db.tx(async (tx) => {
      const expires = "now() + interval '10 minutes'";
      const { rows: [at] } = await tx.query<{ t: string }>(`SELECT (${expires})::text AS t`);
      const claimed = await claimAnyUnits(tx, eventId, 'floor', crypto.randomUUID(), quantity,
        at?.t ?? '', start);
      return claimed.map((row) => row.ticket_no).sort((a, b) => a - b);
    });

    it('starts at the given ticket and wraps around to the first', async () => {
      const { eventId, ticketNos } = await floor();
      const [t0, t1, , , , , , , t8, t9] = ticketNos;
      expect(await claim(eventId, 3, t8 as number)).toEqual([t0, t8, t9]);
      expect(await claim(eventId, 2, t8 as number)).toEqual([t1, ticketNos[2]]);
    });

    it('claims every free unit and no more, wherever it starts', async () => {
      const { eventId, ticketNos } = await floor();
      const got = [
        ...(await claim(eventId, 4, ticketNos[5] as number)),
        ...(await claim(eventId, 4, ticketNos[0] as number)),
        ...(await claim(eventId, 4, ticketNos[9] as number)),
      ];
      expect(got.sort((a, b) => a - b)).toEqual(ticketNos);
      expect(await claim(eventId, 1, ticketNos[3] as number)).toEqual([]);
    });
  });
}
