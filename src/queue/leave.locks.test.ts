/**
 * A fan leaving the line while the admission tick admits them (migration 053).
 *
 * The leave gives back a live pass in its own transaction; the tick's apply admits the
 * planned fans and writes a fan who has left as admitted with the slot already given back.
 * When the leave is written but not yet committed as the apply admits, neither sees the
 * other's row: the leave finds no admission to give back, and the apply reads the entry as
 * still in line. The fan who walked away then holds a live slot (a live shopper for
 * `maxActiveShoppers`, and a pass they can still shop with). The apply now takes the
 * entries' share lock before it admits, in a statement of its own, so it waits for the
 * leave and then sees it. The control skips that lock. PostgreSQL only: two transactions.
 */
import { expect, it } from 'vitest';

import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildQueuedEvent, insertCustomerRows } from '../testing/factories.js';
import { waitForLockWait } from '../testing/lockWait.js';
import { describePostgres } from '../testing/suites.js';
import { tickLine } from './admission.js';
import { leaveLine } from './leave.js';
import { joinLine } from './line.js';

const backends = await testBackends();

describePostgres(backends, 'a leave racing the tick that admits the fan on PostgreSQL',
  { poolMax: 6 }, (suite) => {
    /**
     * One fan in line; their leave is written and held uncommitted while a tick admits
     * them; then the leave commits. Answers the fan's admission as it ended up.
     */
    async function leaveDuringAdmission(unlockedLeavers: boolean) {
      const { db, ctx } = suite;
      const event = await buildQueuedEvent(ctx);
      const [fan] = await insertCustomerRows(db, 1) as [string];
      await joinLine(db, event, [fan], undefined);

      let mayCommit = (): void => undefined;
      const commitGate = new Promise<void>((resolve) => { mayCommit = resolve; });
      let written = (): void => undefined;
      const leaveWritten = new Promise<void>((resolve) => { written = resolve; });
      // leave.ts as it runs, held between its last statement and its commit.
      const holding: Db = {
        kind: db.kind, query: db.query.bind(db), exec: db.exec.bind(db),
        ping: () => db.ping(), close: () => db.close(),
        tx: (work, options) => db.tx(async (tx) => {
          const result = await work(tx);
          written();
          await commitGate;
          return result;
        }, options),
      };
      const leaving = leaveLine(holding, event.eventId, fan, 'left');
      await leaveWritten;
      const ticking = tickLine(db, event, {
        token: 1, claimGraceSeconds: 60, ...(unlockedLeavers ? { unlockedLeavers } : {}),
      });
      // The apply meets the leave's row lock (guarded before it admits; unguarded in the
      // admissions' count trigger, after it admitted).
      await waitForLockWait(db, 'queue_tick_apply', 'the tick');
      mayCommit();
      const [left, ticked] = await Promise.all([leaving, ticking]);
      expect(left.slotFreed).toBe(false);
      expect(ticked.kind === 'ticked' && ticked.admitted.map((a) => a.customerId))
        .toEqual([fan]);
      const { rows } = await db.query<{ released: boolean; reason: string | null }>(
        `SELECT released_at IS NOT NULL AS released, release_reason AS reason
           FROM queue_admissions WHERE event_id = $1 AND customer_id = $2`,
        [event.eventId, fan]);
      return rows[0];
    }

    it('control: without the apply\'s lock, the fan who left keeps a live slot', async () => {
      expect(await leaveDuringAdmission(true)).toEqual({ released: false, reason: null });
    });

    it('the apply waits for the leave and admits the fan with the slot given back',
      async () => {
        expect(await leaveDuringAdmission(false)).toEqual({ released: true, reason: 'left' });
      });
  });
