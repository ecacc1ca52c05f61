/**
 * The waitlist move batch against the tick's slot release, in lock order (migration 051).
 *
 * Three shoppers a, b and c (customer order) hold claimed passes. The tick frees all three
 * as idle, locking their admissions in customer order (migration 048), while a move batch
 * moves a and c to the waitlist and gives their passes back. A third transaction holds b
 * until both wait, so they overlap by construction: the tick holds a and waits at b, and the
 * move batch comes to the passes. Giving them back in customer order, the batch waits at a
 * holding nothing the tick needs; when b is let go the tick frees c too and commits, and the
 * batch finds both passes freed already and moves both fans. The control gives them back
 * in reverse order: the batch holds c and wants a, the tick holds a and wants c, and
 * PostgreSQL reports the deadlock. PostgreSQL only: it needs three transactions at once.
 */
import { expect, it } from 'vitest';

import { sqlState, type Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { limits } from '../config/limits.js';
import { buildQueuedEvent, insertCustomerRows } from '../testing/factories.js';
import { waitForLockWait } from '../testing/lockWait.js';
import { holdOpen } from '../testing/openTx.js';
import { describePostgres } from '../testing/suites.js';
import { claimAdmission, tickLine } from './admission.js';
import { moveBatch } from './handover.js';
import { joinLine } from './line.js';
import { reserveWaitlistBase } from './waitblock.js';
import { listWaitlist } from '../waitlist/waitlist.js';
import { offerReturnedTickets, type ReturnedTicket } from '../waitlist/offers.js';

const backends = await testBackends();

describePostgres(backends,
  'the move batch\'s pass release against the tick\'s slot release on PostgreSQL',
  { poolMax: 6 }, (suite) => {
    async function overlapping(reverseAdmissionLocks: boolean) {
      const { db, ctx } = suite;
      const event = await buildQueuedEvent(ctx);
      const [a, b, c] = (await insertCustomerRows(db, 3)).sort() as [string, string, string];
      await joinLine(db, event, [a, b, c], undefined);
      const first = await tickLine(db, event, { token: 1, claimGraceSeconds: 60 });
      expect(first.kind === 'ticked' && first.admitted.length).toBe(3);
      for (const fan of [a, b, c]) await claimAdmission(db, event.eventId, fan);
      // What the closing tick leaves, so the batch needs no transaction of its own.
      await db.tx((tx) => reserveWaitlistBase(tx, event.eventId));

      const blocker = await holdOpen(db, (tx) => tx.query(
        'SELECT 1 FROM queue_admissions WHERE event_id = $1 AND customer_id = $2 FOR UPDATE',
        [event.eventId, b]));
      const settle = <T>(work: Promise<T>) =>
        work.then((value) => ({ value }), (error: unknown) => ({ error }));
      const tick = settle(tickLine(db, event, {
        token: 1, claimGraceSeconds: 60, idleSeconds: 0,
      }));
      await waitForLockWait(db, 'queue_tick_begin', 'the tick');
      const move = settle(moveBatch(db, event,
        [a, c].map((customerId) => ({ customerId, quantity: 1 })), undefined,
        reverseAdmissionLocks ? { reverseAdmissionLocks: true } : {}));
      await blocker.releaseWhenWaited('waitlist_move_batch(', 'the move batch');
      return { event, fans: { a, b, c }, tick: await tick, move: await move };
    }

    it('the batch gives passes back in customer order: both finish, no deadlock', async () => {
      const { db } = suite;
      const { event, fans, tick, move } = await overlapping(false);
      expect('value' in tick && tick.value.kind).toBe('ticked');
      expect('value' in move && [...move.value.values()].map((moved) =>
        moved instanceof Error ? moved.message : moved.entry.left)).toEqual([true, true]);
      // The tick came first to all three slots; the batch left them as the tick did.
      const { rows } = await db.query<{ customer_id: string; release_reason: string }>(
        `SELECT customer_id, release_reason FROM queue_admissions
          WHERE event_id = $1 ORDER BY customer_id`, [event.eventId]);
      expect(rows).toEqual([fans.a, fans.b, fans.c].map((customer_id) =>
        ({ customer_id, release_reason: 'idle' })));
      const { rows: [moved] } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM queue_entries
          WHERE event_id = $1 AND left_reason = 'waitlist'`, [event.eventId]);
      expect(moved?.n).toBe(2);
    });

    it('control: giving them back in reverse order deadlocks with the tick', async () => {
      const { tick, move } = await overlapping(true);
      const codes = [tick, move].map((r) => ('error' in r ? sqlState(r.error) : 'ok'));
      expect(codes).toContain('40P01');
    });
  });

/**
 * Two move batches of one event at once, as a node runs two in flight on PostgreSQL
 * (`limits.queueMoveBatchesInFlight`). Batch A (three fans) is held at its last fan's line
 * entry by an open transaction, holding the other two; batch B (two fans, interleaved with
 * A's in the line) runs meanwhile and commits first; a double click of one of A's fans, in a
 * third batch, waits for A's lock on that fan. Once A goes: every mover on the waitlist once,
 * at the place their line number gives (not their commit order), the double click told
 * already_left, and the bucket counts give every mover their position in line order.
 */
describePostgres(backends, 'two move batches of one event at once on PostgreSQL',
  { poolMax: 6 }, (suite) => {
    it('the later batch commits first; places and positions still follow the line',
      async () => {
        const { db, ctx } = suite;
        const event = await buildQueuedEvent(ctx);
        const ids = (await insertCustomerRows(db, 6)).sort() as
          [string, string, string, string, string, string];
        const [a1, a2, a3, b1, b2, stays] = ids;
        const line = [b2, a1, b1, a2, a3, stays];
        await joinLine(db, event, line, undefined);
        await db.tx((tx) => reserveWaitlistBase(tx, event.eventId));
        const move = (fans: string[]) => moveBatch(db, event,
          fans.map((customerId) => ({ customerId, quantity: 1 })));

        const blocker = await holdOpen(db, (tx) => tx.query(
          'SELECT 1 FROM queue_entries WHERE event_id = $1 AND customer_id = $2 FOR UPDATE',
          [event.eventId, a3]));
        const first = move([a3, a1, a2]);
        await waitForLockWait(db, 'waitlist_move_batch(', 'batch A');
        const second = await move([b2, b1]);
        expect([...second.values()].map((moved) =>
          moved instanceof Error ? moved.message : moved.entry.left)).toEqual([true, true]);
        const again = move([a1]);
        await waitForLockWait(db, 'waitlist_move_batch(', 'A and the double click', 2);
        await blocker.releaseWhenWaited('waitlist_move_batch(', 'batch A', 2);
        const firstMoved = await first;
        expect([...firstMoved.values()].every((moved) => !(moved instanceof Error))).toBe(true);
        expect((await again).get(a1)).toMatchObject({ code: 'already_left' });

        const { rows } = await db.query<{ customer_id: string; place: string }>(
          `SELECT w.customer_id, (w.seq - s.waitlist_seq_base - q.number)::text AS place
             FROM waitlist_entries w JOIN queue_state s USING (event_id)
             JOIN queue_entries q USING (event_id, customer_id)
            WHERE w.event_id = $1 ORDER BY w.seq`, [event.eventId]);
        const movers = line.slice(0, 5);
        expect(rows.map((row) => row.customer_id)).toEqual(movers);
        expect(new Set(rows.map((row) => row.place))).toEqual(new Set(['0']));
        const positions = await Promise.all(movers.map(async (fan) =>
          (await listWaitlist(db, fan)).find((e) => e.eventId === event.eventId)?.position));
        expect(positions).toEqual([1, 2, 3, 4, 5]);
      });
  });

/**
 * Two move batches whose bucket counts cross (migration 073). The waiting entries are
 * counted per bucket of 64 seqs by statement triggers; a batch writes its entries in two
 * statements (the joiners' insert, then the update of waiting fans who move up to an earlier
 * block place), each trigger taking its own buckets. Batch A inserts into buckets X and X+1
 * and moves a fan up into X+2; batch B inserts into X+2 and moves a fan up into X. An open
 * transaction holds X+1's count, so A holds X and waits; B then takes X+2 and comes to X.
 * Once the count is let go, A's update wants X+2: with the buckets locked up front in bucket
 * order both batches finish; the control (no such lock) deadlocks. PostgreSQL only.
 */
describePostgres(backends, 'two move batches whose bucket counts cross on PostgreSQL',
  { poolMax: 6 }, (suite) => {
    /**
     * `unguarded`: 'ordered' as production calls it; 'unordered' the control's seam; 'null'
     * calls the function directly with a NULL guard list (migration 078: removes nothing).
     */
    async function crossing(unguarded: 'ordered' | 'unordered' | 'null') {
      const { db } = suite;
      const { event, base, x, fan } = await closedLine(suite, 260);
      const [a1, a2, aUp, b1, bUp] = [fan(0, 0), fan(1, 0), fan(2, 2), fan(2, 1), fan(0, 1)];
      // The two who move up are on the waitlist already, far beyond the block.
      await db.query(
        `INSERT INTO waitlist_entries (event_id, customer_id, quantity, status, seq)
         SELECT $1, c, 1, 'waiting', $3::bigint + i
           FROM unnest($2::uuid[]) WITH ORDINALITY AS x(c, i)`,
        [event.eventId, [aUp, bUp], base + 1_000_000]);

      const blocker = await holdOpen(db, (tx) => tx.query(
        `INSERT INTO waitlist_counts (event_id, bucket, waiting) VALUES ($1, $2, 0)
         ON CONFLICT (event_id, bucket) DO UPDATE SET waiting = waitlist_counts.waiting`,
        [event.eventId, x + 1]));
      const settle = <T>(work: Promise<T>) =>
        work.then((value) => ({ value }), (error: unknown) => ({ error }));
      const seams = unguarded === 'unordered' ? { unorderedBucketLocks: true as const } : {};
      // Whether each fan moved.
      const direct = async (fans: string[]): Promise<boolean[]> => (await db.query<{
        outcome: string;
      }>(
        `SELECT outcome FROM waitlist_move_batch($1::uuid, $2::uuid[],
           array_fill(NULL::text, ARRAY[$3::int]), array_fill(1, ARRAY[$3::int]),
           array_fill(true, ARRAY[$3::int]), 8, NULL, NULL)`,
        [event.eventId, fans, fans.length])).rows
        .map((row) => row.outcome === 'joined' || row.outcome === 'known');
      const viaBatch = async (fans: string[]): Promise<boolean[]> => [...(await moveBatch(
        db, event, fans.map((customerId) => ({ customerId, quantity: 1 })), undefined, seams,
      )).values()].map((moved) => !(moved instanceof Error) && moved.entry.left === true);
      const move = (fans: string[]) =>
        settle(unguarded === 'null' ? direct(fans) : viaBatch(fans));
      const first = move([a1, a2, aUp]);
      await waitForLockWait(db, 'waitlist_move_batch(', 'batch A');
      const second = move([b1, bUp]);
      await blocker.releaseWhenWaited('waitlist_move_batch(', 'batches A and B', 2);
      const results = [await first, await second];
      return { event, base, movers: [a1, a2, aUp, b1, bUp], results };
    }

    it('locking the buckets in bucket order first, both batches finish', async () => {
      const { db } = suite;
      const { event, base, movers, results } = await crossing('ordered');
      for (const result of results) {
        expect('value' in result && result.value.every(Boolean)).toBe(true);
      }
      // Every mover at the place their line number gives, and the counts true to the rows.
      const { rows } = await db.query<{ customer_id: string; place: string }>(
        `SELECT w.customer_id, (w.seq - $2::bigint - q.number)::text AS place
           FROM waitlist_entries w JOIN queue_entries q USING (event_id, customer_id)
          WHERE w.event_id = $1`, [event.eventId, base]);
      expect(rows.map((row) => row.customer_id).sort()).toEqual([...movers].sort());
      expect(new Set(rows.map((row) => row.place))).toEqual(new Set(['0']));
      const { rows: off } = await db.query(
        `SELECT bucket
           FROM (SELECT bucket, waiting FROM waitlist_counts WHERE event_id = $1) AS c
           FULL JOIN (SELECT waitlist_bucket(seq) AS bucket, count(*)::int AS n
                        FROM waitlist_entries WHERE event_id = $1 AND status = 'waiting'
                       GROUP BY 1) AS w USING (bucket)
          WHERE coalesce(c.waiting, 0) <> coalesce(w.n, 0)`, [event.eventId]);
      expect(off).toEqual([]);
    });

    it('control: without the lock in bucket order the two batches deadlock', async () => {
      const { results } = await crossing('unordered');
      const codes = results.map((r) => ('error' in r ? sqlState(r.error) : 'ok'));
      expect(codes).toContain('40P01');
    });

    it('a NULL guard list removes no guard: both batches finish', async () => {
      const { results } = await crossing('null');
      const codes = results.map((r) => ('error' in r ? sqlState(r.error) : 'ok'));
      expect(codes).toEqual(['ok', 'ok']);
      for (const result of results) {
        expect('value' in result && result.value.every(Boolean)).toBe(true);
      }
    });
  });

/**
 * A queued event whose line of `fans` fans has its block of waitlist places reserved (from
 * `base`); `fan(b, k)` is the fan whose block place is the `k`th seq of bucket `x + b`,
 * `x` the first bucket wholly inside the block.
 */
async function closedLine(suite: { db: Db; ctx: Parameters<typeof buildQueuedEvent>[0] },
  fans: number) {
  const { db, ctx } = suite;
  const event = await buildQueuedEvent(ctx);
  const line = await insertCustomerRows(db, fans);
  await joinLine(db, event, line, undefined);
  const base = await db.tx((tx) => reserveWaitlistBase(tx, event.eventId));
  const x = ((base + 1) >> 6) + 1;
  const fan = (b: number, k: number): string => {
    const customer = line[((x + b) << 6) + k - base - 1];
    if (customer === undefined) throw new Error(`no fan for bucket ${x + b}`);
    return customer;
  };
  return { event, line, base, x, fan };
}

/** Buckets of `event` whose waiting count differs from a recount of its entries. */
async function countsOff(db: Db, eventId: string): Promise<unknown[]> {
  const { rows } = await db.query(
    `SELECT bucket
       FROM (SELECT bucket, waiting FROM waitlist_counts WHERE event_id = $1) AS c
       FULL JOIN (SELECT waitlist_bucket(seq) AS bucket, count(*)::int AS n
                    FROM waitlist_entries WHERE event_id = $1 AND status = 'waiting'
                   GROUP BY 1) AS w USING (bucket)
      WHERE coalesce(c.waiting, 0) <> coalesce(w.n, 0)`, [eventId]);
  return rows;
}

/**
 * A waitlist offer against a move batch (migrations 037 and 073). Two tickets come back;
 * fan A (first on the waitlist, their entry in bucket X) and fan B (far behind on the
 * waitlist, and still in the line) are offered one each. Meanwhile a move batch moves B up
 * and a joiner J whose block place is in bucket X. The offer pauses after A's offer (A's
 * entry written, bucket X's count held by its trigger) until the batch waits for a lock.
 * Taking every fan's customer lock up front, the batch waits for B's lock holding nothing
 * the offer needs: the offer finishes, then the batch (B keeps the live offer, J joins). The
 * control takes B's lock only at B's offer, as offers once did: the batch holds B's lock and
 * waits for bucket X, the offer holds X and asks for B's lock, and PostgreSQL reports the
 * deadlock. PostgreSQL only: it needs two transactions at once.
 */
describePostgres(backends, 'a waitlist offer against a move batch on PostgreSQL',
  { poolMax: 6 }, (suite) => {
    async function crossing(lockPerOffer: boolean) {
      const { db } = suite;
      const { event, line, base, x, fan } = await closedLine(suite, 400);
      const [joiner, b, a] = [fan(0, 0), fan(3, 0), line[399] as string];
      await db.query(
        `INSERT INTO waitlist_entries (event_id, customer_id, quantity, status, seq)
         VALUES ($1, $2, 1, 'waiting', $3), ($1, $4, 1, 'waiting', $5)`,
        [event.eventId, a, (x << 6) + 40, b, base + 1_000_000]);
      const { rows: tickets } = await db.query<ReturnedTicket>(
        `SELECT ticket_no, zone_key FROM tickets
          WHERE event_id = $1 AND hold_id IS NULL AND order_id IS NULL
          ORDER BY ticket_no LIMIT 2`, [event.eventId]);
      expect(tickets).toHaveLength(2);

      let goOn = (): void => undefined;
      const gate = new Promise<void>((resolve) => { goOn = resolve; });
      let firstMade = (): void => undefined;
      const madeA = new Promise<void>((resolve) => { firstMade = resolve; });
      const settle = <T>(work: Promise<T>) =>
        work.then((value) => ({ value }), (error: unknown) => ({ error }));
      // The tickets are free: locked here as a return would hold them.
      const offer = settle(db.tx(async (tx) => {
        await tx.query(
          `SELECT 1 FROM tickets WHERE event_id = $1 AND ticket_no = ANY($2::int[])
            ORDER BY ticket_no FOR UPDATE`,
          [event.eventId, tickets.map((t) => t.ticket_no)]);
        return await offerReturnedTickets(tx, event.eventId, tickets, 'released', undefined, {
          ...(lockPerOffer ? { lockPerOffer: true as const } : {}),
          offerMade: async (made) => {
            if (made.customerId !== a) return;
            firstMade();
            await gate;
          },
        });
      }, { maxAttempts: 1 }));
      await madeA;
      const move = settle(moveBatch(db, event,
        [joiner, b].map((customerId) => ({ customerId, quantity: 1 }))));
      await waitForLockWait(db, 'waitlist_move_batch(', 'the move batch');
      goOn();
      return { event, fans: { a, b, joiner }, offer: await offer, move: await move };
    }

    it('the offer takes its fans\' customer locks first: both finish', async () => {
      const { db } = suite;
      const { event, fans, offer, move } = await crossing(false);
      expect('value' in offer && offer.value.map((made) => made.customerId))
        .toEqual([fans.a, fans.b]);
      expect('value' in move && [...move.value.values()].map((moved) =>
        moved instanceof Error ? moved.message : moved.entry.left)).toEqual([true, true]);
      const { rows } = await db.query<{ customer_id: string; status: string }>(
        `SELECT customer_id, status FROM waitlist_entries WHERE event_id = $1
          ORDER BY customer_id`, [event.eventId]);
      expect(rows).toEqual([
        { customer_id: fans.a, status: 'offered' },
        { customer_id: fans.b, status: 'offered' },
        { customer_id: fans.joiner, status: 'waiting' },
      ].sort((p, q) => (p.customer_id < q.customer_id ? -1 : 1)));
      expect(await countsOff(db, event.eventId)).toEqual([]);
    });

    it('control: a customer lock taken after an entry is written deadlocks', async () => {
      const { offer, move } = await crossing(true);
      const codes = [offer, move].map((r) => ('error' in r ? sqlState(r.error) : 'ok'));
      expect(codes).toContain('40P01');
    });

    // At the end of a sale thousands wait and every return could serve each of them: the
    // locks taken ahead are bounded by the tickets, not by the waitlist, so concurrent
    // returns cannot fill the server's lock table (64 per connection by default).
    it('a return locks ahead as many fans as it has tickets, plus a few', async () => {
      const { db, ctx } = suite;
      const event = await buildQueuedEvent(ctx);
      const fans = await insertCustomerRows(db, 60);
      await db.query(
        `INSERT INTO waitlist_entries (event_id, customer_id, quantity, status, seq)
         SELECT $1, c, 1, 'waiting', n FROM unnest($2::uuid[]) WITH ORDINALITY AS f(c, n)`,
        [event.eventId, fans]);
      const locks = await db.tx(async (tx) => {
        const { rows: tickets } = await tx.query<ReturnedTicket>(
          `SELECT ticket_no, zone_key FROM tickets
            WHERE event_id = $1 AND hold_id IS NULL AND order_id IS NULL
            ORDER BY ticket_no LIMIT 2 FOR UPDATE`, [event.eventId]);
        const made = await offerReturnedTickets(tx, event.eventId, tickets, 'released');
        expect(made).toHaveLength(2);
        const { rows } = await tx.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks
            WHERE locktype = 'advisory' AND pid = pg_backend_pid()`);
        return rows[0]?.n ?? 0;
      });
      // Two tickets: at most 2 + 16 customer locks and the event's offer lock; all 60
      // waiting fans could be served, so a lock per candidate would be 61.
      expect(locks).toBeGreaterThanOrEqual(2);
      expect(locks).toBeLessThanOrEqual(2 + limits.waitlistOfferLocksAhead + 1);
    });
  });
