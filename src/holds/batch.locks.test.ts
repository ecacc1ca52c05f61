/**
 * A hold batch naming a free seat that another transaction is claiming right now (a batch
 * on another node, or another batch of this node in flight): the batch waits for that
 * claim, checks the seat again once it commits, and refuses it, while the batch's other
 * requests go through. The control runs the same batch with the claim check removed
 * (`tickets` guard, see claim.ts Guard) and sells the seat twice: the batch really did
 * overlap the claim. And two batches of one node in flight at once whose requests name the
 * same seats in opposite orders: one batch wins them, the other's requests are refused, and
 * neither deadlocks (tickets are locked in number order); the control without the claim
 * check sells a seat twice. PostgreSQL only: it needs two transactions at once (PGlite has
 * one connection).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEvent } from '../catalog/events.js';
import type { AppContext } from '../context.js';
import { newId } from '../core/ids.js';
import type { Db } from '../storage/index.js';
import { auditBooking } from '../testing/audit.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { buildCustomers, buildEvent } from '../testing/factories.js';
import { holdOpen } from '../testing/openTx.js';
import { runHoldBatch, type BatchOutcome } from './batch.js';
import type { Guard } from './claim.js';

const postgres = (await testBackends()).find((backend) => backend.name === 'postgres');

describe.skipIf(postgres === undefined || !postgres.available)(
  'a hold batch against a claim in flight on PostgreSQL', () => {
    let db: Db;
    let ctx: AppContext;

    beforeAll(async () => {
      db = await (postgres as NonNullable<typeof postgres>).open({ poolMax: 6 });
      ctx = buildTestContext(db);
    });
    afterAll(async () => {
      await db?.close();
    });

    async function race(unguarded?: Guard): Promise<{ outcomes: BatchOutcome[]; eventId: string }> {
      const created = await buildEvent(ctx);
      const event = await loadEvent(db, created.eventId);
      const [first, second, third] = await buildCustomers(ctx, 3);
      const { rows } = await db.query<{ seat_id: string; ticket_no: number }>(
        `SELECT seat_id, ticket_no FROM tickets
          WHERE event_id = $1 AND seat_id IN ('A-1-1', 'A-1-2')`, [event.eventId]);
      const ticket = new Map(rows.map((row) => [row.seat_id, row.ticket_no]));
      const contested = ticket.get('A-1-1') as number;
      const other = ticket.get('A-1-2') as number;
      // The rival claim: a batch of its own in a transaction the test keeps open.
      const rival = await holdOpen(db, async (tx) => {
        const info = {
          hold_seconds: 600, max_per_customer: 8, cancelled: false, currency: 'EUR',
          on_sale_at: new Date(event.onSaleAtMs).toISOString(),
          starts_at: new Date(event.startsAtMs).toISOString(),
          prices: Object.fromEntries(event.zones.map((zone) => [zone.key, zone.priceCents])),
        };
        const { rows: decided } = await tx.query<{ outcome: string }>(
          `SELECT outcome FROM hold_batch($1::uuid, $2::jsonb, $3::jsonb, '{}')`,
          [event.eventId, JSON.stringify(info), JSON.stringify([{
            i: newId(), c: first?.customerId, q: 1, k: 'seats', t: [contested] }])]);
        return decided.map((row) => row.outcome);
      });
      const batch = runHoldBatch(db, event, [
        { holdId: newId(), customerId: second?.customerId as string, quantity: 1,
          claim: { kind: 'seats', ticketNos: [contested] } },
        { holdId: newId(), customerId: third?.customerId as string, quantity: 1,
          claim: { kind: 'seats', ticketNos: [other] } },
      ], unguarded);
      expect(await rival.releaseWhenWaited('FROM hold_batch(', 'the batch')).toEqual(['held']);
      return { outcomes: await batch, eventId: event.eventId };
    }

    /**
     * Two batches of one node in flight at once (limits.holdBatchesInFlight), whose
     * requests name the same free seats in opposite orders. A transaction of the test locks
     * the first seat until both batches wait on it, so they overlap by construction; then
     * it ends without a change and the batches go on together.
     */
    async function twoBatches(unguarded?: Guard): Promise<{ outcomes: string[]; eventId: string }> {
      const created = await buildEvent(ctx);
      const event = await loadEvent(db, created.eventId);
      const [a, b, c] = await buildCustomers(ctx, 3);
      const { rows } = await db.query<{ ticket_no: number }>(
        `SELECT ticket_no FROM tickets WHERE event_id = $1 AND seat_id IN ('A-1-1', 'A-1-2')
          ORDER BY ticket_no`, [event.eventId]);
      const [x, y] = rows.map((row) => row.ticket_no) as [number, number];
      const blocker = await holdOpen(db, (tx) => tx.query(
        'SELECT 1 FROM tickets WHERE event_id = $1 AND ticket_no = $2 FOR UPDATE',
        [event.eventId, x]));
      const seats = (customer: typeof a, nos: number[]) => ({
        holdId: newId(), customerId: customer?.customerId as string, quantity: nos.length,
        claim: { kind: 'seats' as const, ticketNos: nos },
      });
      const first = runHoldBatch(db, event, [seats(a, [x, y])], unguarded);
      const second = runHoldBatch(db, event, [seats(b, [y, x]), seats(c, [x])], unguarded);
      await blocker.releaseWhenWaited('FROM hold_batch(', 'two hold batches', 2);
      const outcomes = [...await first, ...await second].map((o) => o.outcome);
      return { outcomes, eventId: event.eventId };
    }

    it('control: two batches in flight without the claim check sell a seat twice', async () => {
      const { outcomes, eventId } = await twoBatches('tickets');
      expect(outcomes.filter((o) => o === 'held').length).toBeGreaterThan(1);
      expect(await auditBooking(db, eventId)).not.toEqual([]);
    });

    it('two batches in flight naming the same seats: one wins them, none deadlocks', async () => {
      const { outcomes, eventId } = await twoBatches();
      expect(outcomes.filter((o) => o === 'held')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'unavailable')).toHaveLength(2);
      expect(await auditBooking(db, eventId)).toEqual([]);
    });

    it('without the claim check, the batch takes the seat the rival just held', async () => {
      const { outcomes, eventId } = await race('tickets');
      expect(outcomes.map((o) => o.outcome)).toEqual(['held', 'held']);
      expect(await auditBooking(db, eventId)).not.toEqual([]);
    });

    it('the batch waits for the rival, refuses its seat and holds the other', async () => {
      const { outcomes, eventId } = await race();
      expect(outcomes.map((o) => o.outcome)).toEqual(['unavailable', 'held']);
      expect(await auditBooking(db, eventId)).toEqual([]);
    });
  });
