/**
 * The zone view's reads on committed state, on both backends: the first reads the zone's
 * layout with its free seats (`readZoneSql`, every seat row), every later one only the
 * unsold tickets (`readUnsoldSql`). After sales (a whole row among them), a cancellation, a
 * released hold, a live hold and a lapsed one, a re-read must show exactly the seats a full
 * read shows free. The control: the view before its re-read disagrees with the full read
 * (a cancelled seat it still holds taken), so the comparison can fail.
 */
import { describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import type { Db } from '../storage/index.js';
import { appPerSuite } from '../testing/apps.js';
import { testBackends } from '../testing/backends.js';
import { bearer, buildCustomer, buildEvent, buildHold, lapseHold } from '../testing/factories.js';
import { readZoneSql, ZoneView, type ZoneReadKind } from './zoneView.js';

const backends = await testBackends();

for (const backend of backends) {
  describe.skipIf(!backend.available)(`zone view reads on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;

    appPerSuite(backend, (suite) => ({ db, app, ctx } = suite));

    /** Holds `seats` for a new customer and pays (sim_ok): the seats are sold. */
    async function buy(eventId: string, seats: string[]): Promise<{ orderId: string;
      token: string; }> {
      const buyer = await buildCustomer(ctx);
      const hold = await buildHold(ctx, eventId, buyer.customerId, { seats });
      const order = await app.inject({
        method: 'POST', url: `/api/v1/holds/${hold.holdId}/checkout`,
        headers: { ...bearer(buyer.token), 'idempotency-key': `buy-${hold.holdId}` },
        payload: { paymentMethod: 'sim_ok' },
      });
      expect(order.json()).toMatchObject({ status: 'confirmed' });
      return { orderId: order.json().orderId as string, token: buyer.token };
    }

    /** A view read once (its layout), never again by time, its reads listed by kind. */
    async function viewOf(eventId: string, readGapMs?: number): Promise<
      { view: ZoneView; kinds: ZoneReadKind[] }> {
      const kinds: ZoneReadKind[] = [];
      const view = new ZoneView(db, eventId, 'seats', {
        refreshMs: Infinity, read: (_event, _zone, kind) => kinds.push(kind),
        ...(readGapMs === undefined ? {} : { readGapMs }),
      });
      await view.ensureFresh();
      return { view, kinds };
    }

    /** The zone's free tickets by a full read of committed state, in ticket order. */
    async function freeByFullRead(eventId: string): Promise<number[]> {
      const { rows } = await db.query<{ first_ticket_no: number; first_seat: number;
        available: number[] | null }>(readZoneSql, [eventId, 'seats']);
      return rows.flatMap((row) => (row.available ?? [])
        .map((seat) => row.first_ticket_no + seat - row.first_seat)).sort((a, b) => a - b);
    }

    async function ticketOf(eventId: string, seatId: string): Promise<number> {
      const { rows } = await db.query<{ ticket_no: number }>(
        'SELECT ticket_no FROM tickets WHERE event_id = $1 AND seat_id = $2', [eventId, seatId]);
      return rows[0]?.ticket_no as number;
    }

    const row = (label: string, from: number, to: number): string[] =>
      Array.from({ length: to - from + 1 }, (_, i) => `A-${label}-${from + i}`);

    it('a re-read after sales, a cancellation, a release and holds shows exactly the free '
      + 'seats of a full read', async () => {
      const { eventId } = await buildEvent(ctx);
      const { view, kinds } = await viewOf(eventId);
      expect(view.freeTicketNos()).toEqual(await freeByFullRead(eventId));
      // Row 2 sold whole (a row the re-read finds nothing in), and three seats of row 1.
      await buy(eventId, row('2', 1, 5));
      await buy(eventId, row('2', 6, 10));
      await buy(eventId, ['A-1-1', 'A-1-2']);
      const cancelled = await buy(eventId, ['A-1-3']);
      await view.fresh(view.readsStarted);
      expect(view.freeTicketNos()).toEqual(await freeByFullRead(eventId));
      expect(view.freeSeats).toBe(50 - 13);

      const refund = await app.inject({
        method: 'POST', url: `/api/v1/orders/${cancelled.orderId}/cancel`,
        headers: bearer(cancelled.token), payload: {},
      });
      expect(refund.json()).toMatchObject({ status: 'cancelled' });
      const releasing = await buildCustomer(ctx);
      const released = await buildHold(ctx, eventId, releasing.customerId,
        { seats: ['A-4-1'] });
      const release = await app.inject({ method: 'DELETE', url: `/api/v1/holds/${released.holdId}`,
        headers: bearer(releasing.token) });
      expect(release.statusCode).toBe(204);
      const holding = await buildCustomer(ctx);
      await buildHold(ctx, eventId, holding.customerId, { seats: ['A-3-1', 'A-3-2'] });
      // A hold whose timer ran out, not swept: its seat is free on committed state at once.
      const lapsing = await buildCustomer(ctx);
      const lapsed = await buildHold(ctx, eventId, lapsing.customerId, { seats: ['A-5-1'] });
      await lapseHold(db, lapsed.holdId);
      const committed = await freeByFullRead(eventId);
      // The control: the view as last read still holds the cancelled seat taken.
      const cancelledNo = await ticketOf(eventId, 'A-1-3');
      expect(committed).toContain(cancelledNo);
      expect(view.freeTicketNos()).not.toContain(cancelledNo);
      expect(view.freeTicketNos()).not.toEqual(committed);

      expect(await view.fresh(view.readsStarted)).toBe(committed.length);
      expect(view.freeTicketNos()).toEqual(committed);
      expect(committed).toHaveLength(50 - 12 - 2);
      for (const seat of ['A-1-3', 'A-4-1', 'A-5-1']) {
        expect(committed).toContain(await ticketOf(eventId, seat));
      }
      expect(kinds).toEqual(['full', 'unsold', 'unsold']);
    });

    it('a re-read of a sold-out zone finds no free seat and still says its feed version',
      async () => {
        const { eventId } = await buildEvent(ctx);
        const { view } = await viewOf(eventId);
        await db.query(`INSERT INTO event_feed (event_id, version) VALUES ($1, 41)
                         ON CONFLICT (event_id) DO UPDATE SET version = 41`, [eventId]);
        await db.query(`UPDATE tickets SET order_id = gen_random_uuid()
                         WHERE event_id = $1 AND zone_key = 'seats'`, [eventId]);
        view.follow();
        expect(await view.fresh(view.readsStarted)).toBe(0);
        expect(view.freeTicketNos()).toEqual([]);
        expect(view.version).toBe(41);
      });

    it('refusals arriving together at a sold-out zone share the read that waits out its gap',
      async () => {
        /** The reads twenty fans short of seats cost, the zone's reads `gapMs` apart. */
        async function readsFor(gapMs: number): Promise<{ kinds: ZoneReadKind[];
          answers: number[] }> {
          const { eventId } = await buildEvent(ctx);
          const { view, kinds } = await viewOf(eventId, gapMs);
          await db.query(`UPDATE tickets SET order_id = gen_random_uuid()
                           WHERE event_id = $1 AND zone_key = 'seats' AND seat_id <> 'A-5-10'`,
          [eventId]);
          // The view learns the zone is short (one seat left): every pick below is refused.
          await view.fresh(view.readsStarted);
          // As holds.ts asks: a pick from the view; short, a read started after the look.
          const ask = async (): Promise<number> => {
            const seen = view.readsStarted;
            const pick = view.plan(2, 1);
            if (pick !== undefined) view.settle(pick, { granted: false });
            return await view.fresh(seen);
          };
          const answers = await Promise.all(Array.from({ length: 20 }, ask));
          return { kinds, answers };
        }
        // A gap long enough that the first fan's read is still waiting when the others ask:
        // they join it (it starts after they looked). The layout, the read that found the
        // zone short, and one for the twenty.
        const gapped = await readsFor(1_000);
        expect(gapped.answers).toEqual(Array.from({ length: 20 }, () => 1));
        expect(gapped.kinds).toEqual(['full', 'unsold', 'unsold']);
        // Control, no gap: the first fan's read is already sent when the second looks, so
        // the second waits it out and starts another, which the other eighteen share.
        const ungapped = await readsFor(0);
        expect(ungapped.answers).toEqual(Array.from({ length: 20 }, () => 1));
        expect(ungapped.kinds).toEqual(['full', 'unsold', 'unsold', 'unsold']);
      });
  });
}
