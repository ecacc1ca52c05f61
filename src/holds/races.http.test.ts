/**
 * Invariants 3 and 5 (SPEC §2) raced over real HTTP on PostgreSQL: a listening server,
 * concurrent clients on their own connections, expiry decided by the database clock (the
 * test waits for it; no row is edited to fake it, and no sweeper runs).
 *
 * Each race also runs as a control on a second app over the same database with exactly
 * one production guard removed (`AppContext.unguarded`, see holds/claim.ts). Without the
 * guard, sequential requests still get the right answers (the unguarded claim still reads
 * availability, the unguarded count still counts), so a control that breaks the invariant
 * proves that the requests truly overlapped: the race is real, and the audit sees it. The
 * controls make the overlap rather than hope for it: their hold batches are held back until
 * every contender has reached the batcher (a GatherGate, the apps' `seams.holdBatches`),
 * then let go at once.
 */
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import type { Guard } from './claim.js';
import type { App } from '../http/types.js';
import type { SimulatedGateway } from '../payments/simulated.js';
import type { Db } from '../storage/index.js';
import { auditBooking } from '../testing/audit.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import { buildCustomers, buildEvent, buildVenue } from '../testing/factories.js';
import { GatherGate } from '../testing/holdGate.js';
import { installTestGateway } from '../testing/payments.js';

const postgres = (await testBackends()).find((b) => b.name === 'postgres');

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

describe.skipIf(postgres?.available !== true)('invariant races over HTTP on PostgreSQL', () => {
  let db: Db;
  let ctx: AppContext;
  let gateway: SimulatedGateway;
  const apps: App[] = [];
  const bases = new Map<'guarded' | Guard, string>();
  // A gathered race keeps all its requests open at once: one connection each.
  const agent = new Agent({ connections: 256, pipelining: 1 });
  const gate = new GatherGate();
  const seams = { holdBatches: gate };

  beforeAll(async () => {
    db = await (postgres as NonNullable<typeof postgres>).open({ poolMax: 20 });
    const built = await buildTestApp(db, { seams });
    ctx = built.ctx;
    gateway = installTestGateway(built.app, ctx);
    apps.push(built.app);
    bases.set('guarded', await built.app.listen({ port: 0, host: '127.0.0.1' }));
    for (const guard of ['tickets', 'customer-limit'] as const) {
      const { app } = await buildTestApp(db, { unguarded: guard, seams });
      apps.push(app);
      bases.set(guard, await app.listen({ port: 0, host: '127.0.0.1' }));
    }
  });
  afterAll(async () => {
    await gateway?.close();
    await agent.close();
    for (const app of apps) await app.close();
    await db?.close();
  });

  async function post(
    path: string, token: string, body: object, via: 'guarded' | Guard = 'guarded',
    idempotencyKey?: string,
  ): Promise<Reply> {
    const response = await fetch(`${bases.get(via) as string}${path}`, {
      method: 'POST', body: JSON.stringify(body),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json',
        ...(idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey }) },
      // @ts-expect-error undici's fetch takes a dispatcher; Node's types omit it
      dispatcher: agent,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  /** Polls until `sql` (one boolean column `ok`) is true: a condition, not a guessed sleep. */
  async function until(sql: string, params: unknown[], timeoutMs = 20_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const { rows } = await db.query<{ ok: boolean }>(sql, params);
      if (rows[0]?.ok === true) return;
      if (performance.now() > deadline) throw new Error(`condition not met in time: ${sql}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** A seat held by a first fan on a one-second hold, then expired by the database clock. */
  async function expiredHold(seat: string): Promise<{
    eventId: string; holder: { token: string; customerId: string }; holdId: string;
  }> {
    const event = await buildEvent(ctx, { holdSeconds: 1 });
    const [holder] = await buildCustomers(ctx, 1);
    if (holder === undefined) throw new Error('no customer');
    const held = await post(`/api/v1/events/${event.eventId}/holds`, holder.token,
      { seats: [seat] });
    expect(held.status).toBe(201);
    const holdId = held.body.holdId as string;
    await until(
      `SELECT now() > hold_expires_at AS ok FROM tickets WHERE event_id = $1 AND hold_id = $2`,
      [event.eventId, holdId],
    );
    // Nothing swept it: the hold row still says held; only the clock says it is over.
    const { rows } = await db.query<{ state: string }>(
      'SELECT state FROM holds WHERE hold_id = $1', [holdId]);
    expect(rows[0]?.state).toBe('held');
    return { eventId: event.eventId, holder, holdId };
  }

  /**
   * Holds of `seat` whose lifetimes overlap: a hold made (by its own transaction's clock)
   * before the previous one had ended. Invariant 1 and 3 say there are none. Buyers' holds
   * last one second here, so on a slow machine several buyers may win one after another,
   * each after the previous hold ended: that is allowed, and this check tells it apart.
   */
  async function overlaps(eventId: string, seat: string): Promise<string[]> {
    const { rows } = await db.query<{ hold_id: string; started: Date; ended: Date }>(
      `SELECT h.hold_id, h.created_at AS started, h.claim_expires_at AS ended
         FROM holds h JOIN hold_items i ON i.hold_id = h.hold_id
         JOIN tickets t ON t.event_id = i.event_id AND t.ticket_no = i.ticket_no
        WHERE h.event_id = $1 AND t.seat_id = $2
        ORDER BY h.created_at, h.hold_id`, [eventId, seat]);
    return rows.slice(1).flatMap((row, i) => {
      const previous = rows[i] as (typeof rows)[number];
      return row.started < previous.ended ? [`${row.hold_id} began before ${previous.hold_id} ended`]
        : [];
    });
  }

  /**
   * Runs `requests` with the event's hold batches held back until `n` hold requests have
   * queued: they all overlap, by construction.
   */
  async function gathered<T>(eventId: string, n: number, requests: () => Promise<T>):
    Promise<T> {
    const released = gate.gather(eventId, n);
    const replies = requests();
    await released;
    return await replies;
  }

  /** 100 buyers on a just-expired seat, gathered. */
  async function buyersOnExpiredSeat(via: 'guarded' | Guard): Promise<{
    eventId: string; replies: Reply[];
  }> {
    const { eventId } = await expiredHold('A-2-7');
    const buyers = await buildCustomers(ctx, 100);
    const replies = await gathered(eventId, buyers.length, async () => await Promise.all(
      buyers.map((buyer) =>
        post(`/api/v1/events/${eventId}/holds`, buyer.token, { seats: ['A-2-7'] }, via))));
    return { eventId, replies };
  }

  it('invariant 3: 100 buyers on a just-expired hold; one unexpired hold at a time', async () => {
    const { eventId, replies } = await buyersOnExpiredSeat('guarded');
    const won = replies.filter((r) => r.status === 201).length;
    expect(won).toBeGreaterThanOrEqual(1);
    expect(replies.filter((r) => r.status === 409 && r.body.code === 'seats_unavailable'))
      .toHaveLength(100 - won);
    expect(await overlaps(eventId, 'A-2-7')).toEqual([]);
    expect(await auditBooking(db, eventId)).toEqual([]);
  });

  it('control: without the ticket guard, buyers on a just-expired hold oversell it',
    async () => {
      const { eventId } = await buyersOnExpiredSeat('tickets');
      expect(await overlaps(eventId, 'A-2-7')).not.toEqual([]);
    });

  async function staleCheckoutRace(via: 'guarded' | Guard): Promise<{
    eventId: string; checkouts: Reply[]; rivals: Reply[]; holdId: string;
  }> {
    const { eventId, holder, holdId } = await expiredHold('A-4-4');
    const rivals = await buildCustomers(ctx, 60);
    const claims = async (): Promise<Reply[]> => await Promise.all(rivals.map((rival) =>
      post(`/api/v1/events/${eventId}/holds`, rival.token, { seats: ['A-4-4'] }, via)));
    // The holder retries its checkout (three keys) while the rivals claim the seat. Guarded,
    // the rivals come as they come, so that their claims meet the checkouts; the control
    // gathers them (it shows the rivals overlap).
    const [checkouts, rivalReplies] = await Promise.all([
      Promise.all(['k1', 'k2', 'k3'].map((key) => post(`/api/v1/holds/${holdId}/checkout`,
        holder.token, { paymentMethod: 'sim_ok' }, 'guarded', `${holdId}-${key}`))),
      via === 'guarded' ? claims() : gathered(eventId, rivals.length, claims),
    ]);
    return { eventId, checkouts, rivals: rivalReplies, holdId };
  }

  it('invariant 3: a stale checkout racing 60 rivals for its expired seat takes nothing',
    async () => {
      const { eventId, checkouts, rivals, holdId } = await staleCheckoutRace('guarded');
      expect(checkouts.map((r) => [r.status, r.body.code]))
        .toEqual(checkouts.map(() => [409, 'hold_expired']));
      expect(rivals.filter((r) => r.status === 201).length).toBeGreaterThanOrEqual(1);
      expect(await overlaps(eventId, 'A-4-4')).toEqual([]);
      // No order, no payment, nothing at the gateway for the stale hold.
      const { rows } = await db.query<{ orders: number; charges: number }>(
        `SELECT (SELECT count(*) FROM orders WHERE hold_id = $1)::int AS orders,
                (SELECT count(*) FROM simulated_gateway_charges g
                   JOIN payments p ON p.payment_id::text = g.payment_id::text
                   JOIN orders o ON o.order_id = p.order_id
                  WHERE o.hold_id = $1)::int AS charges`, [holdId]);
      expect(rows[0]).toEqual({ orders: 0, charges: 0 });
      expect(await auditBooking(db, eventId)).toEqual([]);
    });

  it('control: without the ticket guard, the rivals of a stale checkout oversell its seat',
    async () => {
      const { eventId } = await staleCheckoutRace('tickets');
      expect(await overlaps(eventId, 'A-4-4')).not.toEqual([]);
    });

  /**
   * One customer (limit 4) holds two seats, then checks them out while firing 50 holds at
   * once: 25 named seats and 25 standing units, one ticket each.
   */
  async function oneCustomerBurst(via: 'guarded' | Guard): Promise<{
    eventId: string; customerId: string; checkout: Reply; holds: Reply[];
  }> {
    const venue = await buildVenue(ctx, { rows: 6, seatsPerRow: 10, standing: 200 });
    const event = await buildEvent(ctx, { venue, maxTicketsPerCustomer: 4 });
    const [fan] = await buildCustomers(ctx, 1);
    if (fan === undefined) throw new Error('no customer');
    const first = await post(`/api/v1/events/${event.eventId}/holds`, fan.token,
      { seats: ['A-1-1', 'A-1-2'] });
    expect(first.status).toBe(201);
    const bodies = Array.from({ length: 50 }, (_, i) => (i % 2 === 0
      ? { seats: [`A-${2 + Math.floor(i / 10)}-${(i % 10) + 1}`] }
      : { zone: 'floor', quantity: 1 }));
    const burst = async (): Promise<Reply[]> => await Promise.all(bodies.map((body) =>
      post(`/api/v1/events/${event.eventId}/holds`, fan.token, body, via)));
    // Guarded, the holds come as they come and fill several batches, each taking the
    // customer lock against the others and the checkout; gathered they would be decided in
    // one batch. The control gathers them: each counted the customer's tickets before any
    // of them was decided.
    const [checkout, holds] = await Promise.all([
      post(`/api/v1/holds/${first.body.holdId as string}/checkout`, fan.token,
        { paymentMethod: 'sim_ok' }, 'guarded', `checkout-${first.body.holdId as string}`),
      via === 'guarded' ? burst() : gathered(event.eventId, bodies.length, burst),
    ]);
    return { eventId: event.eventId, customerId: fan.customerId, checkout, holds };
  }

  async function heldAndOwned(customerId: string, eventId: string): Promise<number> {
    const { rows } = await db.query<{ n: number }>(
      `SELECT ((SELECT coalesce(sum(quantity), 0) FROM holds
                 WHERE customer_id = $1 AND event_id = $2 AND state = 'held'
                   AND claim_expires_at > now())
             + (SELECT coalesce(sum(quantity), 0) FROM orders
                 WHERE customer_id = $1 AND event_id = $2 AND status = 'confirmed'))::int AS n`,
      [customerId, eventId]);
    return rows[0]?.n ?? -1;
  }

  it('invariant 5: one customer, 50 parallel holds and a checkout: never over the limit',
    async () => {
      const { eventId, customerId, checkout, holds } = await oneCustomerBurst('guarded');
      expect(checkout.status).toBe(201);
      expect(checkout.body.status).toBe('confirmed');
      expect(holds.filter((r) => r.status === 201)).toHaveLength(2);
      expect(holds.filter((r) => r.status === 422 && r.body.code === 'limit_exceeded'))
        .toHaveLength(48);
      expect(await heldAndOwned(customerId, eventId)).toBe(4);
      expect(await auditBooking(db, eventId)).toEqual([]);
    });

  it('control: without the customer lock, the same burst goes over the limit', async () => {
    const { eventId, customerId, holds } = await oneCustomerBurst('customer-limit');
    expect(holds.filter((r) => r.status === 201).length).toBeGreaterThan(2);
    expect(await heldAndOwned(customerId, eventId)).toBeGreaterThan(4);
    expect(await auditBooking(db, eventId)).toContainEqual(
      expect.stringContaining('over the limit'));
  });
});
