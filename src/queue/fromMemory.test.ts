/**
 * The waiting room answers from memory: a known fan's re-join, a waiting fan's poll and an
 * admitted fan's pass are served without a PostgreSQL round trip (counted on the storage
 * port, not timed); a flushed cache falls back to PostgreSQL and refills; two nodes agree
 * after a tick; and a cached pass never reaches another customer. On every backend, with
 * the in-process coordinator and with Redis (keys under a random prefix, deleted after).
 */
import { randomUUID } from 'node:crypto';

import { afterAll, describe, expect, it, vi } from 'vitest';

import { loadEvent, type EventRecord } from '../catalog/events.js';
import type { QueueSettings } from '../catalog/schemas.js';
import { limits } from '../config/limits.js';
import type { AppContext } from '../context.js';
import { createMemoryCoordinator, createMemoryHub } from '../coord/memory.js';
import { createRedisCoordinator, type Coordinator } from '../coord/index.js';
import { ManualClock, type Clock } from '../core/clock.js';
import type { Db, Queryable } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { bookingDeps } from '../orders/workers.js';
import { checkout } from '../orders/checkout.js';
import { OutboxRelay } from '../outbox/relay.js';
import { buildCustomers, buildEvent, buildHold } from '../testing/factories.js';
import { deleteRedisPrefix, serviceAvailable, testRedisUrl } from '../testing/services.js';
import { releaseShopperSlot } from './admission.js';
import { usableAdmission } from './admits.js';
import { AdmissionDuty } from './duty.js';
import { confirmedOrdersSink } from './ordersSink.js';
import { assertMayHold } from './gate.js';
import { WaitingRoom, waitingRoom } from './room.js';
import type { LineStatus } from './types.js';

const backends = await testBackends();
const redisUp = await serviceAvailable('Redis', testRedisUrl);
const prefixes: string[] = [];

afterAll(async () => {
  if (redisUp) for (const prefix of prefixes) await deleteRedisPrefix(prefix);
});

/** Wraps a database so every statement sent to it is counted (transactions included). */
function counted(db: Db): { db: Db; statements: () => number; reset: () => void } {
  let count = 0;
  const wrap = (q: Queryable): Queryable => ({
    query: (sql, params) => {
      count += 1;
      return q.query(sql, params);
    },
    exec: (sql) => {
      count += 1;
      return q.exec(sql);
    },
  });
  const outer = wrap(db);
  const wrapped: Db = {
    ...db, ...outer,
    tx: (work, options) => db.tx((tx) => work(wrap(tx)), options),
  };
  return { db: wrapped, statements: () => count, reset: () => { count = 0; } };
}

async function until(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Leads the admission duty until one tick of the line has run, then hands the lease back. */
async function tickLineOnce(ctx: AppContext, eventId: string): Promise<void> {
  const duty = new AdmissionDuty(ctx);
  await duty.start();
  try {
    await until(async () => (await duty.tickOnce()).get(eventId)?.kind === 'ticked');
  } finally {
    await duty.stop();
  }
}

type CoordKind = 'memory' | 'redis';

for (const backend of backends) {
  for (const kind of ['memory', 'redis'] as CoordKind[]) {
    const enabled = backend.available && (kind === 'memory' || redisUp);
    describe.skipIf(!enabled)(`the waiting room from memory (${backend.name}, ${kind})`, () => {
      /** Coordinators of one cluster: a shared hub in process, or one Redis prefix. */
      function cluster(): () => Coordinator {
        if (kind === 'memory') {
          const hub = createMemoryHub();
          return () => createMemoryCoordinator({ hub });
        }
        const prefix = `test:qmem:${randomUUID().slice(0, 8)}:`;
        prefixes.push(prefix);
        return () => createRedisCoordinator({
          url: testRedisUrl, prefix, name: 'test-qmem', logger: { warn: () => undefined },
        });
      }

      async function setup(queue: Partial<QueueSettings> = {}, clock?: Clock): Promise<{
        db: Db; ctx: AppContext; room: WaitingRoom; event: EventRecord;
        count: ReturnType<typeof counted>; coordFor: () => Coordinator;
        close: () => Promise<void>;
      }> {
        const raw = await backend.open();
        const count = counted(raw);
        const coordFor = cluster();
        const coord = coordFor();
        const ctx = buildTestContext(count.db, { coord, ...(clock ? { clock } : {}) });
        const details = await buildEvent(ctx, {
          queue: {
            enabled: true, admitPerMinute: 60_000, maxActiveShoppers: 2, passSeconds: 600,
            ...queue,
          },
        });
        const event = await loadEvent(raw, details.eventId);
        const room = new WaitingRoom(ctx);
        return {
          db: raw, ctx, room, event, count, coordFor,
          async close() {
            await room.stopFollowing();
            await coord.close();
            await raw.close();
          },
        };
      }

      /**
       * Runs `work` with a second node of the cluster and the relay that carries confirmed
       * orders to every node's memory, then stops them and closes the setup.
       */
      async function withOrdersNews(
        node: Awaited<ReturnType<typeof setup>>,
        work: (nodes: Awaited<ReturnType<typeof setup>> & {
          other: WaitingRoom; otherCoord: Coordinator; relay: OutboxRelay;
        }) => Promise<void>,
      ): Promise<void> {
        const otherCoord = node.coordFor();
        const other = new WaitingRoom(buildTestContext(node.count.db, { coord: otherCoord }));
        const relay = new OutboxRelay(node.ctx, {
          sinks: [confirmedOrdersSink(node.ctx)], holderId: 'test-orders-sink', pollMs: 1e9,
        });
        try {
          await work({ ...node, other, otherCoord, relay });
        } finally {
          await relay.stop();
          await other.stopFollowing();
          await otherCoord.close();
          await node.close();
        }
      }

      it('a known fan re-joins and polls without a PostgreSQL round trip', async () => {
        const { ctx, room, event, count, close } = await setup();
        try {
          const [a, b] = [randomUUID(), randomUUID()];
          await room.join(event, a);
          await room.join(event, b);
          await room.view(event, b);
          // A join's reply does not wait for its members-cache write; the re-join comes after
          // it has landed (before that, a re-join is answered by a batch, as on a miss).
          const members = ctx.coord.keys.event(event.eventId, 'queue:members');
          await vi.waitFor(async () => {
            expect(await ctx.coord.hashGet(members, b)).not.toBeNull();
          }, { timeout: 10_000 });
          count.reset();
          const again = await room.join(event, b);
          const polled = await room.view(event, b);
          expect(again).toMatchObject({ created: false, view: { state: 'waiting', number: 2 } });
          expect(polled).toMatchObject({ state: 'waiting', number: 2, position: 2 });
          expect(count.statements()).toBe(0);
        } finally {
          await close();
        }
      });

      it('a newcomer\'s join is one statement: its group-committed batch, no lookup of its own',
        async () => {
          const { room, event, count, close } = await setup();
          try {
            await room.join(event, randomUUID());
            count.reset();
            const joined = await room.join(event, randomUUID());
            expect(joined).toMatchObject({ created: true, view: { number: 2 } });
            expect(count.statements()).toBe(1);
          } finally {
            await close();
          }
        });

      it('a flushed cache falls back to PostgreSQL, keeps who left, and refills', async () => {
        const { ctx, room, event, count, close } = await setup();
        try {
          const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
          for (const fan of [a, b, c]) await room.join(event, fan);
          await room.leave(event, b);
          // What a Redis flush or restart does to the cache of this line.
          for (const name of ['queue:members', 'queue:status', 'queue:admits']) {
            await ctx.coord.del(ctx.coord.keys.event(event.eventId, name));
          }
          const fresh = new WaitingRoom(ctx);
          try {
            expect(await fresh.view(event, c)).toMatchObject({ state: 'waiting', number: 3 });
            expect((await fresh.join(event, b)).view).toMatchObject({ state: 'left', number: 2 });
            expect(await fresh.join(event, a)).toMatchObject({
              created: false, view: { state: 'waiting', number: 1 },
            });
            count.reset();
            expect(await fresh.view(event, c)).toMatchObject({ state: 'waiting', number: 3 });
            expect(count.statements()).toBe(0);
          } finally {
            await fresh.stopFollowing();
          }
        } finally {
          await close();
        }
      });

      it('two nodes agree after a tick, without reading the line from PostgreSQL', async () => {
        const { db, ctx, room, event, count, coordFor, close } = await setup();
        const otherCoord = coordFor();
        const other = buildTestContext(count.db, { coord: otherCoord });
        const second = new WaitingRoom(other);
        try {
          const fans = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
          for (const fan of fans) await room.join(event, fan);
          const last = fans[3] as string;
          await room.view(event, last);
          await second.view(event, last);
          const duty = new AdmissionDuty(ctx);
          await duty.start();
          let status: LineStatus | undefined;
          try {
            await until(async () => {
              const outcome = (await duty.tickOnce()).get(event.eventId);
              if (outcome?.kind === 'ticked') status = outcome.status;
              return status !== undefined;
            });
          } finally {
            await duty.stop();
          }
          const served = (status as LineStatus).servedUpTo;
          expect(served).toBe(2);
          // Both rooms hear the tick on the line's channel: `room` is not the instance the
          // duty publishes through (that one knows at once), so it may hear it after the
          // other node does.
          await until(async () => (await second.view(event, last)).servedUpTo === served
            && (await room.view(event, last)).servedUpTo === served);
          count.reset();
          const [here, there] = [await room.view(event, last), await second.view(event, last)];
          expect(here).toEqual(there);
          expect(here).toMatchObject({ state: 'waiting', position: 2, servedUpTo: 2 });
          expect(count.statements()).toBe(0);
          void db;
        } finally {
          await second.stopFollowing();
          await otherCoord.close();
          await close();
        }
      });

      /** Joins `count` fans and runs one admission tick; returns them in line order. */
      async function admitFirst(
        ctx: AppContext, event: EventRecord, count: number,
      ): Promise<string[]> {
        const fans = Array.from({ length: count }, () => randomUUID());
        for (const fan of fans) await waitingRoom(ctx).join(event, fan);
        await tickLineOnce(ctx, event.eventId);
        return fans;
      }

      it('an admitted fan gets the pass from memory, and sees the claim at once', async () => {
        const { ctx, event, count, close } = await setup();
        const room = waitingRoom(ctx);
        try {
          const [first, , third] = await admitFirst(ctx, event, 3) as [string, string, string];
          count.reset();
          const view = await room.view(event, first);
          expect(view).toMatchObject({ state: 'admitted', position: 0 });
          expect(view.claimBy).toBeDefined();
          expect(await room.view(event, third)).toMatchObject({ state: 'waiting', position: 1 });
          expect(count.statements()).toBe(0);
          const check = room.passes.verify(view.pass as string, {
            eventId: event.eventId, customerId: first, nowMs: ctx.clock.nowMs(),
          });
          expect(check.ok).toBe(true);
          // The hold gate decides on the row (a round trip) and tells the cache.
          await assertMayHold(ctx, event, first, view.pass);
          count.reset();
          const claimed = await room.view(event, first);
          expect(claimed).toMatchObject({ state: 'admitted', pass: view.pass });
          expect(claimed.claimBy).toBeUndefined();
          expect(count.statements()).toBe(0);
        } finally {
          await close();
        }
      });

      it('a stale or misfiled entry never shows one customer another\'s pass', async () => {
        const { ctx, event, close } = await setup();
        const room = waitingRoom(ctx);
        try {
          const [first, second, third] =
            await admitFirst(ctx, event, 3) as [string, string, string];
          const key = ctx.coord.keys.event(event.eventId, 'queue:admits');
          const firstEntry = await ctx.coord.hashGet(key, first);
          expect(firstEntry).not.toBeNull();
          // Control: the entry is a real, usable pass, for its own customer.
          const nowMs = ctx.clock.nowMs();
          expect(usableAdmission(firstEntry as string, event.eventId, first, nowMs))
            .toMatchObject({ customerId: first, live: true });
          // Filed under the second fan (admitted) and the third (still waiting).
          const misfiled = firstEntry as string;
          await ctx.coord.hashSet(key, { [second]: misfiled, [third]: misfiled });
          const own = (await room.view(event, first)).pass as string;
          const secondView = await room.view(event, second);
          expect(secondView.state).toBe('admitted');
          expect(secondView.pass).not.toBe(own);
          const claims = room.passes.verify(secondView.pass as string, {
            eventId: event.eventId, customerId: second, nowMs,
          });
          expect(claims.ok).toBe(true);
          const thirdView = await room.view(event, third);
          expect(thirdView).toMatchObject({ state: 'waiting' });
          expect(thirdView.pass).toBeUndefined();
        } finally {
          await close();
        }
      });

      it('a lost admissions cache reads PostgreSQL and refills', async () => {
        const { ctx, event, count, close } = await setup();
        const room = waitingRoom(ctx);
        try {
          const [first] = await admitFirst(ctx, event, 1) as [string];
          const before = await room.view(event, first);
          await ctx.coord.del(ctx.coord.keys.event(event.eventId, 'queue:admits'));
          count.reset();
          expect(await room.view(event, first)).toEqual(before);
          expect(count.statements()).toBeGreaterThan(0);
          count.reset();
          expect(await room.view(event, first)).toEqual(before);
          expect(count.statements()).toBe(0);
        } finally {
          await close();
        }
      });

      it('the next tick forgets the pass of a slot freed elsewhere', async () => {
        const { ctx, db, event, close } = await setup();
        const room = waitingRoom(ctx);
        try {
          const [first, , third] = await admitFirst(ctx, event, 3) as [string, string, string];
          expect((await room.view(event, first)).state).toBe('admitted');
          // An order completes (the booking engine's call, by the database clock).
          expect(await releaseShopperSlot(db, event.eventId, first)).toBe(true);
          // Control: until a tick, the cached pass still answers (the bounded staleness).
          expect((await room.view(event, first)).state).toBe('admitted');
          await tickLineOnce(ctx, event.eventId);
          expect((await room.view(event, first)).state).toBe('expired');
          expect((await room.view(event, third)).state).toBe('admitted');
        } finally {
          await close();
        }
      });

      it('a completed order forgets the buyer\'s pass on every node, before any tick',
        async () => {
          await withOrdersNews(await setup(), async ({ ctx, event, other, relay }) => {
            const room = waitingRoom(ctx);
            const fans = await buildCustomers(ctx, 3);
            const [buyer, , third] = fans.map((fan) => fan.customerId) as [string, string, string];
            for (const fan of fans) await room.join(event, fan.customerId);
            await tickLineOnce(ctx, event.eventId);
            expect((await room.view(event, buyer)).state).toBe('admitted');
            expect((await other.view(event, buyer)).state).toBe('admitted');
            // The buyer checks out: the confirming transaction frees the slot in PostgreSQL.
            const hold = await buildHold(ctx, event.eventId, buyer, { seats: ['A-1-1'] });
            const { order } = await checkout(bookingDeps(ctx), {
              customerId: buyer, holdId: hold.holdId, paymentMethod: 'sim_ok',
            });
            expect(order.status).toBe('confirmed');
            // Control: until the order's news reaches the cache, both nodes answer from it.
            expect((await room.view(event, buyer)).state).toBe('admitted');
            expect((await other.view(event, buyer)).state).toBe('admitted');
            await relay.start();
            await until(async () => (await relay.runOnce()).published > 0);
            expect((await room.view(event, buyer)).state).toBe('expired');
            expect((await other.view(event, buyer)).state).toBe('expired');
            // No tick ran since: the freed slot is not handed on yet, the sink only forgot.
            expect((await room.view(event, third)).state).toBe('waiting');
          });
        });

      it('a fan who bought says so: purchased while admitted, from the cache on any node',
        async () => {
          await withOrdersNews(await setup(), async ({ ctx, room, event, count, other, relay }) => {
            const fans = await buildCustomers(ctx, 2);
            const [buyer, leaver] = fans.map((fan) => fan.customerId) as [string, string];
            for (const fan of fans) await room.join(event, fan.customerId);
            await tickLineOnce(ctx, event.eventId);
            // The tick reaches this node's memory through the line's channel.
            await until(async () => (await room.view(event, buyer)).state === 'admitted');
            const hold = await buildHold(ctx, event.eventId, buyer, { seats: ['A-1-1'] });
            const { order } = await checkout(bookingDeps(ctx), {
              customerId: buyer, holdId: hold.holdId, paymentMethod: 'sim_ok',
            });
            expect(order.status).toBe('confirmed');
            await relay.start();
            await until(async () => (await relay.runOnce()).published > 0);
            const bought = { state: 'expired', leftReason: 'purchased' };
            expect(await room.view(event, buyer)).toMatchObject(bought);
            // The fan who leaves is told the plain reason, and an expired pass is not a sale.
            expect(await room.leave(event, leaver)).toMatchObject({
              state: 'left', leftReason: 'left',
            });
            count.reset();
            expect(await room.view(event, buyer)).toMatchObject(bought);
            expect(await other.view(event, buyer)).toMatchObject(bought);
            expect(await other.view(event, leaver)).toMatchObject({
              state: 'left', leftReason: 'left',
            });
            expect(count.statements()).toBe(0);
          });
        });

      it('a fan who bought while waiting is told purchased once the order\'s news arrives',
        async () => {
          await withOrdersNews(await setup({ maxActiveShoppers: 1 }), async (nodes) => {
            const { ctx, room, event, count, other, relay, otherCoord } = nodes;
            const fans = await buildCustomers(ctx, 2);
            const [first, buyer] = fans.map((fan) => fan.customerId) as [string, string];
            for (const fan of fans) await room.join(event, fan.customerId);
            await tickLineOnce(ctx, event.eventId);
            expect(await other.view(event, buyer)).toMatchObject({ state: 'waiting' });
            // A waitlist offer, say: the order confirms while the fan still waits in line.
            const hold = await buildHold(ctx, event.eventId, buyer, { seats: ['A-1-2'] });
            await checkout(bookingDeps(ctx), {
              customerId: buyer, holdId: hold.holdId, paymentMethod: 'sim_ok',
            });
            await relay.start();
            await until(async () => (await relay.runOnce()).published > 0);
            const fresh = new WaitingRoom(buildTestContext(count.db, { coord: otherCoord }));
            try {
              count.reset();
              expect(await fresh.view(event, buyer)).toMatchObject({
                state: 'left', leftReason: 'purchased', number: 2,
              });
              expect(count.statements()).toBe(0);
            } finally {
              await fresh.stopFollowing();
            }
            await until(async () => (await room.view(event, first)).state === 'admitted');
          });
        });

      it('a members-cache value without the reason reads it once, then answers from memory',
        async () => {
          const { ctx, room, event, count, close } = await setup();
          try {
            const fan = randomUUID();
            await room.join(event, fan);
            await room.leave(event, fan, 'waitlist');
            const key = ctx.coord.keys.event(event.eventId, 'queue:members');
            // As a node written before the reason was kept left it.
            await ctx.coord.hashSet(key, { [fan]: 'l1' }, 60_000);
            const fresh = new WaitingRoom(ctx);
            try {
              count.reset();
              const told = { state: 'left', leftReason: 'waitlist', number: 1 };
              expect(await fresh.view(event, fan)).toMatchObject(told);
              expect(count.statements()).toBe(1);
              const later = new WaitingRoom(ctx);
              try {
                count.reset();
                expect(await later.view(event, fan)).toMatchObject(told);
                expect(count.statements()).toBe(0);
              } finally {
                await later.stopFollowing();
              }
            } finally {
              await fresh.stopFollowing();
            }
          } finally {
            await close();
          }
        });

      it('a poll is answered from the node\'s memory; the members cache is asked once it ages',
        async () => {
          const clock = new ManualClock(Date.now());
          const { ctx, room, event, count, close } = await setup({}, clock);
          const hashGet = ctx.coord.hashGet.bind(ctx.coord);
          let cacheReads = 0;
          ctx.coord.hashGet = async (key, field) => {
            cacheReads += 1;
            return await hashGet(key, field);
          };
          try {
            const [a, b] = [randomUUID(), randomUUID()];
            await room.join(event, a);
            await room.join(event, b);
            await room.view(event, b);
            count.reset();
            cacheReads = 0;
            for (let i = 0; i < 3; i += 1) {
              expect(await room.view(event, b)).toMatchObject({ state: 'waiting', number: 2 });
            }
            expect([cacheReads, count.statements()]).toEqual([0, 0]);
            // Control: once the memory ages, the poll asks the members cache (once).
            clock.advance(limits.queueMemberMemoMs);
            expect(await room.view(event, b)).toMatchObject({ state: 'waiting', number: 2 });
            expect(await room.view(event, b)).toMatchObject({ state: 'waiting', number: 2 });
            expect(cacheReads).toBe(1);
          } finally {
            await close();
          }
        });

      it('a fan who left through another node is shown in line here for at most the memory\'s '
        + 'bound; a re-join says left at once', async () => {
        const clock = new ManualClock(Date.now());
        const { ctx, room, event, count, coordFor, close } = await setup({}, clock);
        const otherCoord = coordFor();
        const second = new WaitingRoom(buildTestContext(count.db, { coord: otherCoord, clock }));
        try {
          const [a, b] = [randomUUID(), randomUUID()];
          await room.join(event, a);
          await room.join(event, b);
          expect(await second.view(event, b)).toMatchObject({ state: 'waiting', number: 2 });
          await room.leave(event, b);
          expect(await room.view(event, b)).toMatchObject({ state: 'left' });
          // The other node still shows the place it remembers...
          expect(await second.view(event, b)).toMatchObject({ state: 'waiting', number: 2 });
          clock.advance(limits.queueMemberMemoMs);
          // ...until its memory ages (a re-join asks the members cache at once).
          expect(await second.view(event, b)).toMatchObject({ state: 'left', number: 2 });
          const other = new WaitingRoom(buildTestContext(count.db, { coord: otherCoord, clock }));
          try {
            expect(await other.view(event, a)).toMatchObject({ state: 'waiting', number: 1 });
            await room.leave(event, a);
            expect((await other.join(event, a)).view).toMatchObject({ state: 'left' });
            expect(await other.view(event, a)).toMatchObject({ state: 'left' });
          } finally {
            await other.stopFollowing();
          }
          void ctx;
        } finally {
          await second.stopFollowing();
          await otherCoord.close();
          await close();
        }
      });

      it('a slot freed elsewhere shows as admitted for at most the cache\'s bound', async () => {
        const clock = new ManualClock(Date.now());
        const { ctx, db, event, close } = await setup({}, clock);
        const room = waitingRoom(ctx);
        try {
          const [first] = await admitFirst(ctx, event, 1) as [string];
          expect((await room.view(event, first)).state).toBe('admitted');
          // The order completes on another node: PostgreSQL frees the slot.
          expect(await releaseShopperSlot(db, event.eventId, first, clock.nowMs())).toBe(true);
          expect((await room.view(event, first)).state).toBe('admitted');
          clock.advance(limits.queueAdmissionCacheMs + 1);
          expect((await room.view(event, first)).state).toBe('expired');
        } finally {
          await close();
        }
      });
    });
  }
}
