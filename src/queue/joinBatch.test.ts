/**
 * The join batch (`queue_join_batch`, one round trip) under conflicting requests.
 *
 * Two nodes, one customer: node 1's batch for X and Y is in flight (its transaction is
 * kept open) while node 2's batch for X and Z arrives. Node 2 waits for the numbering lock,
 * then sees X's committed entry: X keeps the number node 1 gave and Z is numbered after
 * Y. The control runs node 2's batch with the lock removed (guard 'numbering'): it reads
 * the line before node 1 commits and numbers X a second time, and only the unique indexes
 * stop it, so the lock is what serializes the two nodes. PostgreSQL only: it needs two
 * transactions at once (PGlite has one connection and runs one statement at a time).
 *
 * Many joiners in one batch, on both backends: a fan already in line, one who left, a
 * duplicate, a revoked token and newcomers decided together, each by their own rule; and
 * the waiting room writes the batch's members cache once, not once per fan.
 *
 * A batch reads its own customers' entries, not the line: on a connection whose plans were
 * made while the line was empty (the function's plans are generic and kept), a batch of 16
 * new fans of a 2,000-entry line fetches at most its own rows. The control is the function
 * as migration 034 defined it, on the same connection, which fetches the whole line.
 * PostgreSQL only (PGlite keeps no table access counters).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { expect, it } from 'vitest';

import { TokenRevoked } from '../customers/tokenVersions.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { buildCustomers, buildQueuedEvent } from '../testing/factories.js';
import { waitForLockWait } from '../testing/lockWait.js';
import { holdOpen } from '../testing/openTx.js';
import { describeEachBackend, describePostgres } from '../testing/suites.js';
import { createMemoryCoordinator } from '../coord/memory.js';
import type { Coordinator } from '../coord/types.js';
import { leaveLine } from './leave.js';
import {
  joinLine, JoinBatcher, type JoinGuard, type JoinOutcome, type JoinPacing,
} from './line.js';
import { newSeed } from './shuffle.js';
import { WaitingRoom } from './room.js';

const backends = await testBackends();

async function entries(db: Db, eventId: string): Promise<{ id: string; n: number }[]> {
  const { rows } = await db.query<{ customer_id: string; number: string }>(
    'SELECT customer_id, number FROM queue_entries WHERE event_id = $1 ORDER BY number',
    [eventId]);
  return rows.map((row) => ({ id: row.customer_id, n: Number(row.number) }));
}

describePostgres(backends, 'one customer joining from two nodes at once (PostgreSQL)',
  { poolMax: 6 }, (suite) => {
    async function race(unguarded?: JoinGuard) {
      const { db, ctx } = suite;
      const event = await buildQueuedEvent(ctx, { admitPerMinute: 60 });
      const [first, x, y, z] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      // The line exists and its (empty) pre-queue is drawn: both nodes take the one-call path.
      await joinLine(db, event, [first], undefined);
      const node1 = await holdOpen(db, async (tx) => {
        const { rows } = await tx.query<{ customer: string; entry_number: string }>(
          `SELECT customer, entry_number FROM queue_join_batch($1::uuid, $2::uuid[],
             $3::int[], $4::timestamptz)`,
          [event.eventId, [x, y], [null, null], new Date(event.onSaleAtMs)]);
        return rows.map((row) => Number(row.entry_number));
      });
      const node2 = joinLine(db, event, [x, z], undefined, undefined, undefined, unguarded)
        .then((outcomes) => ({ outcomes }), (error: unknown) => ({ error }));
      expect(await node1.releaseWhenWaited('FROM queue_join_batch(', "node 2's batch"))
        .toEqual([2, 3]);
      return { ...(await node2), line: await entries(db, event.eventId), first, x, y, z };
    }

    it('control: without the numbering lock, node 2 numbers X again (unique index stops it)',
      async () => {
        const { error, outcomes } = await race('numbering') as {
          error?: { code?: string }; outcomes?: Map<string, JoinOutcome>;
        };
        expect(outcomes).toBeUndefined();
        expect(error?.code).toBe('23505');
      });

    /**
     * One node, two batches of one event in flight (the production pacing on PostgreSQL):
     * the second is sent while the first still waits for the numbering lock, and waits
     * behind it inside PostgreSQL. A transaction holding the lock keeps both waiting at once.
     */
    async function twoInFlight(pacing: JoinPacing) {
      const { db, ctx } = suite;
      const event = await buildQueuedEvent(ctx, { admitPerMinute: 60 });
      const [first, x, z] = [randomUUID(), randomUUID(), randomUUID()];
      await joinLine(db, event, [first], undefined);
      const holder = await holdOpen(db, (tx) => tx.query(
        'SELECT 1 FROM queue_numbering WHERE event_id = $1 FOR UPDATE', [event.eventId]));
      const batcher = new JoinBatcher(db, ctx.clock, newSeed, pacing);
      const joinA = batcher.join(event, x);
      await waitForLockWait(db, 'FROM queue_join_batch(', 'the first batch');
      // X again and Z: with two in flight, X's repeat goes at once in a batch of its own.
      const joinB = batcher.join(event, x);
      const joinC = batcher.join(event, z);
      const waiting = pacing.inFlight > 1 ? 2 : 1;
      await waitForLockWait(db, 'FROM queue_join_batch(', 'the batches', waiting);
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database()
            AND wait_event_type = 'Lock' AND position('FROM queue_join_batch(' in query) > 0`);
      holder.release();
      await holder.done;
      const answers = await Promise.all([joinA, joinB, joinC]);
      return { answers, waitedAtOnce: rows[0]?.n, line: await entries(db, event.eventId),
        first, x, z };
    }

    it('control: with one batch in flight, the repeat waits in the node, not at the lock',
      async () => {
        const { waitedAtOnce } = await twoInFlight({ inFlight: 1, parallelMin: 1,
          nextFirst: false });
        expect(waitedAtOnce).toBe(1);
      });

    it('two batches of one node in flight: the second waits for the lock, finds X in line',
      async () => {
        const { answers, waitedAtOnce, line, first, x, z } = await twoInFlight({
          inFlight: 2, parallelMin: 1, nextFirst: true,
        });
        expect(waitedAtOnce).toBe(2);
        expect(answers).toEqual([
          { customerId: x, number: 2, created: true },
          { customerId: x, number: 2, created: false },
          { customerId: z, number: 3, created: true },
        ]);
        expect(line).toEqual([{ id: first, n: 1 }, { id: x, n: 2 }, { id: z, n: 3 }]);
      });

    it('node 2 waits, finds X in line with node 1\'s number and numbers Z next', async () => {
      const { outcomes, line, first, x, y, z } = await race() as {
        outcomes: Map<string, JoinOutcome>; line: { id: string; n: number }[];
        first: string; x: string; y: string; z: string;
      };
      expect(outcomes.get(x)).toEqual({ customerId: x, number: 2, created: false });
      expect(outcomes.get(z)).toEqual({ customerId: z, number: 4, created: true });
      expect(line).toEqual([{ id: first, n: 1 }, { id: x, n: 2 }, { id: y, n: 3 },
        { id: z, n: 4 }]);
    });
  });

describeEachBackend(backends, (name) => `many joiners in one batch (${name})`, {},
  (suite, backend) => {
    it('each fan of a mixed batch is decided by their own rule, newcomers in arrival order',
      async () => {
        const { db, ctx } = suite;
        const event = await buildQueuedEvent(ctx, { admitPerMinute: 60 });
        const [inLine, gone, revoked] = (await buildCustomers(ctx, 3)).map((c) => c.customerId);
        const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
        await joinLine(db, event, [inLine as string, gone as string], undefined);
        await leaveLine(db, event.eventId, gone as string, 'left', undefined);
        await db.query('UPDATE customers SET token_version = 1 WHERE customer_id = $1',
          [revoked]);
        const batcher = new JoinBatcher(db, ctx.clock);
        // The first join runs alone; everything after it waits and goes as one batch.
        const blocker = randomUUID();
        const settled = await Promise.allSettled([
          batcher.join(event, blocker),
          batcher.join(event, a), batcher.join(event, inLine as string, 0),
          batcher.join(event, b), batcher.join(event, revoked as string, 0),
          batcher.join(event, gone as string), batcher.join(event, a),
          batcher.join(event, c),
        ]);
        const values = settled.map((s) => (s.status === 'fulfilled' ? s.value : s.reason));
        expect(values).toEqual([
          { customerId: blocker, number: 3, created: true },
          { customerId: a, number: 4, created: true },
          { customerId: inLine, number: 1, created: false },
          { customerId: b, number: 5, created: true },
          expect.any(TokenRevoked),
          { customerId: gone, number: 2, created: false, left: true },
          { customerId: a, number: 4, created: false },
          { customerId: c, number: 6, created: true },
        ]);
        expect((await entries(db, event.eventId)).map((e) => e.n)).toEqual([1, 2, 3, 4, 5, 6]);
      });

    // PostgreSQL only: PGlite keeps no table access counters (they read 0 in both cases).
    it.skipIf(backend.name !== 'postgres')(
      'a batch fetches its own customers\' entries, not the line (control: migration 034)',
      async () => {
        const { db, ctx } = suite;
        const event = await buildQueuedEvent(ctx, { admitPerMinute: 60 });
        await joinLine(db, event, [randomUUID()], undefined);
        const as034 = readFileSync(new URL(
          '../storage/migrations/034_queue_join_batch.sql', import.meta.url), 'utf8')
          .replace('CREATE FUNCTION queue_join_batch(', 'CREATE FUNCTION queue_join_batch_034(');
        await db.exec(as034);
        const fetched = await db.tx(async (tx) => {
          const batch = async (fn: string, size: number): Promise<number> => {
            const read = async (): Promise<number> => {
              const { rows } = await tx.query<{ n: string }>(
                `SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS n
                   FROM pg_stat_xact_user_tables WHERE relname = 'queue_entries'`);
              return Number(rows[0]?.n ?? 0);
            };
            const ids = Array.from({ length: size }, () => randomUUID());
            const before = await read();
            const { rows } = await tx.query<{ outcome: string }>(
              `SELECT outcome FROM ${fn}($1::uuid, $2::uuid[], $3::int[], $4::timestamptz)`,
              [event.eventId, ids, ids.map(() => null), new Date(event.onSaleAtMs)]);
            expect(rows.map((row) => row.outcome)).toEqual(ids.map(() => 'joined'));
            return (await read()) - before;
          };
          // Both functions plan on this connection while the line has one entry.
          await batch('queue_join_batch', 1);
          await batch('queue_join_batch_034', 1);
          for (let i = 0; i < 4; i += 1) await batch('queue_join_batch', 500);
          return { now: await batch('queue_join_batch', 16),
            as034: await batch('queue_join_batch_034', 16) };
        });
        expect(fetched.now).toBeLessThanOrEqual(16);
        expect(fetched.as034).toBeGreaterThanOrEqual(2_000);
        expect((await entries(db, event.eventId)).map((e) => e.n))
          .toEqual(Array.from({ length: 2_035 }, (_, i) => i + 1));
      });

    it('a join\'s late cache write never replaces a leave written meanwhile by another node',
      async () => {
        const { db } = suite;
        const coord = createMemoryCoordinator({});
        let open = (): void => undefined;
        const gate = new Promise<void>((resolve) => { open = resolve; });
        let landed = (): void => undefined;
        const written = new Promise<void>((resolve) => { landed = resolve; });
        // Node 1's members-cache write of its join batch is held until node 2 has written.
        const held: Coordinator = { ...coord, hashSetAbsent: async (key, fields, ttlMs) => {
          await gate;
          await coord.hashSetAbsent(key, fields, ttlMs);
          landed();
        } };
        const node1 = new WaitingRoom(buildTestContext(db, { coord: held }));
        const node2 = new WaitingRoom(buildTestContext(db, { coord }));
        const event = await buildQueuedEvent(buildTestContext(db, { coord }),
          { admitPerMinute: 60 });
        const x = randomUUID();
        try {
          // The reply does not wait for the cache write (the gate is still closed).
          const { view, created } = await node1.join(event, x);
          expect(created).toBe(true);
          await node2.leave(event, x);
          open();
          await written;
          const fresh = new WaitingRoom(buildTestContext(db, { coord }));
          expect(await fresh.entry(event.eventId, x)).toEqual({
            customerId: x, number: view.number, left: true, leftReason: 'left',
          });
          // Control: the same late write as a plain hashSet replaces the leave's mark, and a
          // node reading the cache would tell a fan who left that they are waiting.
          const key = coord.keys.event(event.eventId, 'queue:members');
          await coord.hashSet(key, { [x]: String(view.number) });
          const misled = new WaitingRoom(buildTestContext(db, { coord }));
          expect(await misled.entry(event.eventId, x)).toEqual({
            customerId: x, number: view.number,
          });
        } finally {
          await Promise.all([node1, node2].map((room) => room.stopFollowing()));
          await coord.close();
        }
      });

    it('a batch of joins writes the members cache once, every fan in it', async () => {
      const { db } = suite;
      const coord = createMemoryCoordinator({});
      let writes = 0;
      let cachedFans = 0;
      let allCached = (): void => undefined;
      const cachedAll = new Promise<void>((resolve) => { allCached = resolve; });
      const counting: Coordinator = { ...coord, hashSetAbsent: async (key, fields, ttlMs) => {
        writes += 1;
        await coord.hashSetAbsent(key, fields, ttlMs);
        cachedFans += Object.keys(fields).length;
        if (cachedFans >= 50) allCached();
      } };
      let batches = 0;
      const countingDb = new Proxy(db, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver) as unknown;
          if (prop !== 'query' || typeof value !== 'function') return value;
          return (sql: string, params?: unknown[]) => {
            if (sql.includes('FROM queue_join_batch(')) batches += 1;
            return (value as (s: string, p?: unknown[]) => unknown).call(target, sql, params);
          };
        },
      });
      const roomCtx = buildTestContext(countingDb, { coord: counting });
      const event = await buildQueuedEvent(roomCtx, { admitPerMinute: 60 });
      const room = new WaitingRoom(roomCtx);
      try {
        const ids = Array.from({ length: 50 }, () => randomUUID());
        // The first join runs alone; the rest wait and go in a few batches (PostgreSQL: two
        // in flight). How many depends on when each join reaches the batcher, so the bound
        // only says they were grouped, not sent one transaction each.
        const joined = await Promise.all(ids.map((id) => room.join(event, id)));
        // The replies do not wait for the cache writes (they only fill missing fields).
        await cachedAll;
        const numbers = joined.map((j) => j.view.number as number);
        expect([...numbers].sort((a, b) => a - b)).toEqual(ids.map((_, i) => i + 1));
        expect(batches).toBeGreaterThan(0);
        expect(batches).toBeLessThanOrEqual(10);
        expect(writes).toBeLessThanOrEqual(batches);
        const key = coord.keys.event(event.eventId, 'queue:members');
        const cached = await Promise.all(ids.map((id) => coord.hashGet(key, id)));
        expect(cached).toEqual(numbers.map(String));
      } finally {
        await room.stopFollowing();
        await coord.close();
      }
    });
  });
