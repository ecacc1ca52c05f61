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

import { sqlState } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildQueuedEvent, insertCustomerRows } from '../testing/factories.js';
import { waitForLockWait } from '../testing/lockWait.js';
import { holdOpen } from '../testing/openTx.js';
import { describePostgres } from '../testing/suites.js';
import { claimAdmission, tickLine } from './admission.js';
import { moveBatch } from './handover.js';
import { joinLine } from './line.js';
import { reserveWaitlistBase } from './waitblock.js';

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
