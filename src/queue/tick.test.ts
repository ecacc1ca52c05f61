/**
 * The admission tick's round trips and its serial order (migration 045).
 *
 * An ordinary tick is two round trips: `queue_tick_begin` (fencing, clock, slots freed,
 * state, figures, the run after servedUpTo) and `queue_tick_apply` (admissions, outbox row
 * and state under the line's row lock). The count is the contract here: a statement added
 * between them shows up as a failure, not as a slower sale.
 *
 * Two ticks racing: one reads the line and is held before it applies, while another ticks
 * the line to completion. A deposed leader's held tick is refused (fencing); a tick of the
 * same leader is refused too (tick_seq moved), made again from the line as it now stands
 * and admits the next fans in order. The control applies the held plan without the
 * tick_seq check: it names fans the other tick already admitted, and only the admission
 * keys stop it.
 */
import { randomUUID } from 'node:crypto';

import { expect, it } from 'vitest';

import { loadEvent, type EventRecord } from '../catalog/events.js';
import { createHold } from '../holds/holds.js';
import type { Db, Queryable, QueryResult } from '../storage/index.js';
import { sqlState } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import {
  buildEvent, buildQueuedEvent, buildVenue, insertCustomerRows,
} from '../testing/factories.js';
import { waitForLockWait } from '../testing/lockWait.js';
import { describeEachBackend, describePostgres } from '../testing/suites.js';
import { claimAdmission, tickLine, type TickOutcome } from './admission.js';
import { joinLine } from './line.js';

const backends = await testBackends();

/** `db` counting its round trips: every statement, and BEGIN and COMMIT of a transaction. */
function counting(db: Db): { db: Db; trips: () => number; reset: () => void } {
  let trips = 0;
  const wrap = (target: Queryable): Queryable => ({
    query<T>(sql: string, params: unknown[] = []): Promise<QueryResult<T>> {
      trips += 1;
      return target.query<T>(sql, params);
    },
    exec: (sql: string) => {
      trips += 1;
      return target.exec(sql);
    },
  });
  const wrapped: Db = {
    ...wrap(db),
    kind: db.kind,
    tx: (work, options) => {
      trips += 2;
      return db.tx((tx) => work(wrap(tx)), options);
    },
    ping: () => db.ping(),
    close: () => db.close(),
  };
  return { db: wrapped, trips: () => trips, reset: () => { trips = 0; } };
}

async function addFans(db: Db, n: number): Promise<string[]> {
  return await insertCustomerRows(db, n);
}

async function admissions(db: Db, eventId: string) {
  const { rows } = await db.query<{ customer_id: string; number: string; token: string }>(
    `SELECT customer_id, number, leader_token AS token FROM queue_admissions
      WHERE event_id = $1 ORDER BY number`, [eventId]);
  return rows.map((row) => ({
    customerId: row.customer_id, number: Number(row.number), token: Number(row.token),
  }));
}

describeEachBackend(backends, (name) => `the admission tick on ${name}`, {}, (suite) => {
  /** A queued event on sale by the database clock, and fans in line (numbered). */
  async function line(
    fans: number, queue: { admitPerMinute: number; maxActiveShoppers: number },
  ): Promise<{ event: EventRecord; fans: string[] }> {
    const { db, ctx } = suite;
    const details = await buildEvent(ctx, {
      venue: await buildVenue(ctx),
      onSaleAt: new Date(Date.now() - 60_000).toISOString(),
      maxTicketsPerCustomer: 4,
      queue: { enabled: true, ...queue },
    });
    const event = await loadEvent(db, details.eventId);
    const ids = await addFans(db, fans);
    await joinLine(db, event, ids, undefined);
    return { event, fans: ids };
  }

  it('an ordinary tick is two round trips: read and free, then admit and write', async () => {
    const { db } = suite;
    const { event, fans } = await line(30, { admitPerMinute: 600, maxActiveShoppers: 10 });
    // The first tick draws (an empty pre-queue) and admits the first fans.
    const first = await tickLine(db, event, { token: 1, claimGraceSeconds: 60 });
    expect(first.kind).toBe('ticked');
    const admitted = first.kind === 'ticked' ? first.admitted : [];
    expect(admitted.length).toBeGreaterThan(0);
    // Shoppers mid-sale: one holds, one claimed and went idle at once.
    const [holder, idler] = admitted.map((fan) => fan.customerId);
    await claimAdmission(db, event.eventId, holder as string);
    await createHold(db, event, holder as string, { zone: 'floor', quantity: 2 });
    await claimAdmission(db, event.eventId, idler as string);
    const counted = counting(db);
    const outcomes: TickOutcome[] = [];
    for (let i = 0; i < 3; i++) {
      counted.reset();
      outcomes.push(await tickLine(counted.db, event, {
        token: 1, claimGraceSeconds: 60, idleSeconds: 0,
      }));
      expect(counted.trips()).toBe(2);
    }
    expect(outcomes.map((o) => o.kind)).toEqual(['ticked', 'ticked', 'ticked']);
    // Few tickets (150): the shape of what is left came in the same round trip.
    expect(outcomes.every((o) => o.kind === 'ticked' && o.status.supply?.shape)).toBe(true);
    // The ticks did their work in those two: the idle shopper's slot was freed, and
    // the line kept moving in order.
    const { rows } = await db.query<{ release_reason: string | null }>(
      'SELECT release_reason FROM queue_admissions WHERE event_id = $1 AND customer_id = $2',
      [event.eventId, idler]);
    expect(rows[0]?.release_reason).toBe('idle');
    const all = await admissions(db, event.eventId);
    expect(all.map((row) => row.number)).toEqual(all.map((_, i) => i + 1));
    expect(all.map((row) => row.customerId)).toEqual(fans.slice(0, all.length));
  });

  /**
   * Tick `held` reads the line and waits before applying; meanwhile `rival` ticks it
   * through. Both at once by construction, on one connection or many.
   */
  async function race(options: {
    heldToken: number; rivalToken: number; unsequenced?: true; unfenced?: true;
  }) {
    const { db } = suite;
    // Three fans a second: each tick of a second's credit admits three.
    const { event, fans } = await line(9, { admitPerMinute: 180, maxActiveShoppers: 100 });
    const t0 = Date.now();
    let reached = (): void => undefined;
    const atApply = new Promise<void>((resolve) => { reached = resolve; });
    let go = (): void => undefined;
    const gate = new Promise<void>((resolve) => { go = resolve; });
    let pauses = 0;
    const held = tickLine(db, event, {
      token: options.heldToken, claimGraceSeconds: 60, nowMs: t0 + 1_000,
      ...(options.unsequenced ? { unsequenced: true as const } : {}),
      ...(options.unfenced ? { unfenced: true as const } : {}),
      beforeApply: async () => {
        pauses += 1;
        if (pauses > 1) return;
        reached();
        await gate;
      },
    }).then((outcome) => ({ outcome }), (error: unknown) => ({ error }));
    await atApply;
    const rival = await tickLine(db, event, {
      token: options.rivalToken, claimGraceSeconds: 60, nowMs: t0,
    });
    go();
    return { fans, rival, held: await held, rows: await admissions(db, event.eventId),
      pauses };
  }

  it('a deposed leader\'s tick held across another leader\'s is refused', async () => {
    const { fans, rival, held, rows } = await race({ heldToken: 1, rivalToken: 2 });
    expect(rival.kind === 'ticked' && rival.admitted.length).toBe(3);
    expect(held).toEqual({ outcome: { kind: 'fenced', newerToken: 2 } });
    expect(rows).toEqual(fans.slice(0, 3).map((customerId, i) =>
      ({ customerId, number: i + 1, token: 2 })));
  });

  it('a tick overtaken by another is made again: the next fans, in order, once each',
    async () => {
      const { fans, rival, held, rows, pauses } = await race({ heldToken: 1, rivalToken: 1 });
      expect(pauses).toBe(2);
      expect(rival.kind === 'ticked' && rival.admitted.map((f) => f.number))
        .toEqual([1, 2, 3]);
      expect('outcome' in held && held.outcome.kind === 'ticked'
        && held.outcome.admitted.map((f) => f.number)).toEqual([4, 5, 6]);
      expect(rows.map((row) => row.number)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(rows.map((row) => row.customerId)).toEqual(fans.slice(0, 6));
    });

  it('control: without the tick_seq check the held plan names fans already admitted',
    async () => {
      const { fans, rival, held, rows, pauses } = await race({
        heldToken: 1, rivalToken: 2, unfenced: true, unsequenced: true,
      });
      expect(pauses).toBe(1);
      expect(rival.kind === 'ticked' && rival.admitted.map((f) => f.number))
        .toEqual([1, 2, 3]);
      // The stale plan admitted 1–3 again: only the admission keys refused it.
      expect('error' in held && sqlState(held.error)).toBe('23505');
      expect(rows.map((row) => row.customerId)).toEqual(fans.slice(0, 3));
    });
});

/**
 * A hold batch claiming passes and a tick freeing slots, in opposite roles: the batch
 * claims fans a and c (it locks their admissions in customer order, migration 035) while
 * the tick frees a, b and c (idle). A third transaction holds b until both wait, so they
 * overlap by construction. Freeing in customer order, the tick waits at b holding a or
 * nothing the batch needs first; both finish. The control frees them in reverse order: the
 * tick holds c and wants a, the batch holds a and wants c, and PostgreSQL reports the
 * deadlock. PostgreSQL only: it needs three transactions at once.
 */
describePostgres(backends,
  'the tick\'s slot release against a hold batch\'s pass claim on PostgreSQL',
  { poolMax: 6 }, (suite) => {
    async function opposite(reverseSlotLocks: boolean) {
      const { db, ctx } = suite;
      const event = await buildQueuedEvent(ctx);
      const [a, b, c] = (await addFans(db, 3)).sort();
      await joinLine(db, event, [a, b, c] as string[], undefined);
      const first = await tickLine(db, event, { token: 1, claimGraceSeconds: 60 });
      expect(first.kind === 'ticked' && first.admitted.length).toBe(3);
      for (const fan of [a, b, c]) await claimAdmission(db, event.eventId, fan as string);
      const { rows: passes } = await db.query<{ customer_id: string; pass_id: string }>(
        'SELECT customer_id, pass_id FROM queue_admissions WHERE event_id = $1',
        [event.eventId]);
      const pass = new Map(passes.map((row) => [row.customer_id, row.pass_id]));
      const { rows: seats } = await db.query<{ ticket_no: number }>(
        `SELECT ticket_no FROM tickets WHERE event_id = $1 AND seat_id IN ('A-1-1', 'A-1-2')
          ORDER BY ticket_no`, [event.eventId]);

      let release = (): void => undefined;
      const gate = new Promise<void>((resolve) => { release = resolve; });
      let locked = (): void => undefined;
      const lockTaken = new Promise<void>((resolve) => { locked = resolve; });
      const blocker = db.tx(async (tx) => {
        await tx.query(
          'SELECT 1 FROM queue_admissions WHERE event_id = $1 AND customer_id = $2 FOR UPDATE',
          [event.eventId, b]);
        locked();
        await gate;
      }, { maxAttempts: 1 });
      await lockTaken;
      const settle = <T>(work: Promise<T>) =>
        work.then((value) => ({ value }), (error: unknown) => ({ error }));
      const tick = settle(tickLine(db, event, {
        token: 1, claimGraceSeconds: 60, idleSeconds: 0,
        ...(reverseSlotLocks ? { reverseSlotLocks: true as const } : {}),
      }));
      await waitForLockWait(db, 'queue_tick_begin', 'the tick');
      const info = {
        hold_seconds: 600, max_per_customer: 8, cancelled: false, currency: 'EUR',
        on_sale_at: new Date(event.onSaleAtMs).toISOString(),
        starts_at: new Date(event.startsAtMs).toISOString(),
        prices: Object.fromEntries(event.zones.map((zone) => [zone.key, zone.priceCents])),
      };
      const batch = settle(db.query<{ outcome: string }>(
        'SELECT outcome FROM hold_batch($1::uuid, $2::jsonb, $3::jsonb, \'{}\')',
        [event.eventId, JSON.stringify(info), JSON.stringify([a, c].map((fan, i) => ({
          i: randomUUID(), c: fan, q: 1, k: 'seats', t: [seats[i]?.ticket_no],
          p: pass.get(fan as string),
        })))]));
      await waitForLockWait(db, 'FROM hold_batch(', 'the hold batch');
      release();
      await blocker;
      return { tick: await tick, batch: await batch };
    }

    it('the tick frees slots in customer order: both finish, no deadlock', async () => {
      const { tick, batch } = await opposite(false);
      expect('value' in tick && tick.value.kind).toBe('ticked');
      expect('value' in batch && batch.value.rows.length).toBe(2);
    });

    it('control: freeing them in reverse order deadlocks with the hold batch', async () => {
      const { tick, batch } = await opposite(true);
      const codes = [tick, batch].map((r) => ('error' in r ? sqlState(r.error) : 'ok'));
      expect(codes).toContain('40P01');
    });
  });

/**
 * A hold batch using a pass between the tick's snapshot and its lock (migration 048): the
 * batch's transaction claims an idle shopper's pass (claimed_at moves to its now()) and
 * places a hold, and stays open; the tick, whose snapshot sees neither, picks the slot as
 * idle and waits for the row. When the batch commits, the READ COMMITTED re-check evaluates
 * the slot again on the row's newest version: the pass was just used, so it is not idle,
 * and the slot stays. The control shows the race is real: the same interleaving for a
 * shopper whose latest hold (in the tick's snapshot) had lapsed, which the re-check cannot
 * see past (holds are read as the snapshot shows them, by the old lookups as by the sets):
 * the slot is freed although the batch's hold is live. PostgreSQL only (two transactions).
 */
describePostgres(backends,
  'the tick\'s slot release against a hold batch using the pass meanwhile on PostgreSQL',
  { poolMax: 6 }, (suite) => {
    async function heldAcrossBatch(lapsedCart: boolean) {
      const { db, ctx } = suite;
      const event = await buildQueuedEvent(ctx);
      const [fan] = await addFans(db, 1) as [string];
      await joinLine(db, event, [fan], undefined);
      const first = await tickLine(db, event, { token: 1, claimGraceSeconds: 60 });
      expect(first.kind === 'ticked' && first.admitted.length).toBe(1);
      await claimAdmission(db, event.eventId, fan);
      // Idle for ten minutes by the tick's rule (60 s here).
      const { rows: passes } = await db.query<{ pass_id: string }>(
        `UPDATE queue_admissions SET claimed_at = now() - interval '10 min'
          WHERE event_id = $1 AND customer_id = $2 RETURNING pass_id`,
        [event.eventId, fan]);
      if (lapsedCart) {
        // A cart that ran out its timer a minute ago, unpaid (no tickets left on it).
        await db.query(
          `INSERT INTO holds (hold_id, event_id, customer_id, state, quantity, adjacent,
                              currency, total_cents, expires_at, claim_expires_at,
                              created_at, ended_at)
           VALUES ($1, $2, $3, 'expired', 1, true, 'EUR', 1000, now() - interval '1 min',
                   now() - interval '1 min', now() - interval '11 min',
                   now() - interval '1 min')`, [randomUUID(), event.eventId, fan]);
      }
      const { rows: seats } = await db.query<{ ticket_no: number }>(
        `SELECT ticket_no FROM tickets WHERE event_id = $1 AND seat_id = 'A-1-1'`,
        [event.eventId]);
      const info = {
        hold_seconds: 600, max_per_customer: 8, cancelled: false, currency: 'EUR',
        on_sale_at: new Date(event.onSaleAtMs).toISOString(),
        starts_at: new Date(event.startsAtMs).toISOString(),
        prices: Object.fromEntries(event.zones.map((zone) => [zone.key, zone.priceCents])),
      };

      let commit = (): void => undefined;
      const gate = new Promise<void>((resolve) => { commit = resolve; });
      let used = (): void => undefined;
      const passUsed = new Promise<void>((resolve) => { used = resolve; });
      const batch = db.tx(async (tx) => {
        const { rows } = await tx.query<{ outcome: string }>(
          'SELECT outcome FROM hold_batch($1::uuid, $2::jsonb, $3::jsonb, \'{}\')',
          [event.eventId, JSON.stringify(info), JSON.stringify([{
            i: randomUUID(), c: fan, q: 1, k: 'seats', t: [seats[0]?.ticket_no],
            p: passes[0]?.pass_id,
          }])]);
        used();
        await gate;
        return rows.map((row) => row.outcome);
      }, { maxAttempts: 1 });
      await passUsed;
      const tick = tickLine(db, event, { token: 1, claimGraceSeconds: 60, idleSeconds: 60 });
      await waitForLockWait(db, 'queue_tick_begin', 'the tick');
      commit();
      const outcomes = await batch;
      const ticked = await tick;
      const { rows } = await db.query<{ release_reason: string | null; holds: number }>(
        `SELECT a.release_reason,
                (SELECT count(*)::int FROM holds h WHERE h.event_id = a.event_id
                    AND h.customer_id = a.customer_id AND h.state = 'held') AS holds
           FROM queue_admissions a WHERE a.event_id = $1 AND a.customer_id = $2`,
        [event.eventId, fan]);
      return { outcomes, ticked: ticked.kind, ...rows[0] };
    }

    it('a pass used after the tick\'s snapshot is checked again: the slot stays', async () => {
      const result = await heldAcrossBatch(false);
      expect(result).toEqual({
        outcomes: ['held'], ticked: 'ticked', release_reason: null, holds: 1,
      });
    });

    it('control: a lapsed cart in the tick\'s snapshot frees the slot though the batch holds',
      async () => {
        const result = await heldAcrossBatch(true);
        expect(result).toEqual({
          outcomes: ['held'], ticked: 'ticked', release_reason: 'idle', holds: 1,
        });
      });
  });
