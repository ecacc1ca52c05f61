/** The standing claim's wrap-around scan, on both backends. */
import { expect, it } from 'vitest';
import { testBackends } from '../testing/backends.js';
import { buildEvent, buildVenue } from '../testing/factories.js';
import { describeEachBackend } from '../testing/suites.js';
import { claimAnyUnits } from './claim.js';

const backends = await testBackends();

describeEachBackend(backends, (name) => `claimAnyUnits on ${name}`, {}, (suite) => {
  async function floor(): Promise<{ eventId: string; ticketNos: number[] }> {
    const { db, ctx } = suite;
    const venue = await buildVenue(ctx, { rows: 1, seatsPerRow: 2, standing: 10 });
    const { eventId } = await buildEvent(ctx, { venue });
    const { rows } = await db.query<{ ticket_no: number }>(
      `SELECT ticket_no FROM tickets WHERE event_id = $1 AND zone_key = 'floor'
        ORDER BY ticket_no`, [eventId]);
    return { eventId, ticketNos: rows.map((row) => row.ticket_no) };
  }

  const claim = (eventId: string, quantity: number, start: number) => suite.db.tx(async (tx) => {
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
