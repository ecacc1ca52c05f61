/**
 * A store that says "busy" (busy.ts): the hold queue's load as the group commit measures it
 * (a manual clock, batches held by a gate, no sleeps), the wait estimate, the refusal with
 * its signal, and, over HTTP on both databases and both coordinators, that a fan refused
 * by a busy store keeps the slot while a control without the tick's protection loses it.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadEvent } from '../catalog/events.js';
import type { AppContext } from '../context.js';
import { ManualClock } from '../core/clock.js';
import { DomainError } from '../core/errors.js';
import { GroupCommit, type KeyLoad } from '../core/groupCommit.js';
import { createMemoryCoordinator } from '../coord/memory.js';
import type { Db } from '../storage/index.js';
import { storePaceKnobs } from '../queue/duty.js';
import { findAdmission, tickLine } from '../queue/admission.js';
import { joinLine } from '../queue/line.js';
import { waitingRoom } from '../queue/room.js';
import {
  publishStoreSignal, readStoreSignal, storeSignalKey,
} from '../queue/storePace.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp, buildTestContext } from '../testing/context.js';
import { bearer, buildCustomers, buildEvent } from '../testing/factories.js';
import { PauseGate } from '../testing/pauseGate.js';
import { coordinatorsFor, type CoordKind } from '../testing/coords.js';
import { estimatedWaitMs, StoreBusy } from './busy.js';

const backends = await testBackends();
const { redisUp, coordinator } = await coordinatorsFor('busy');

/** Lets settled promises run their callbacks (no time passes). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('the hold queue\'s load', () => {
  it('counts waiters, ages the oldest and measures batches on the given clock', async () => {
    let nowMs = 0;
    const gate = new PauseGate();
    const ends: (() => void)[] = [];
    const batcher = new GroupCommit<number, number>({
      maxBatch: 2, inFlight: 1, gate, now: () => nowMs,
      run: async (_key, items) => {
        await new Promise<void>((resolve) => ends.push(resolve));
        return items;
      },
    });
    expect(batcher.load('e')).toBeUndefined();
    gate.pause();
    const answers = [1, 2, 3, 4, 5].map((n) => batcher.submit('e', n));
    nowMs = 1_500;
    expect(batcher.load('e')).toEqual({ waiting: 5, running: 0, oldestWaitMs: 1_500, batchMs: 0 });
    gate.resume();
    expect(batcher.load('e')).toMatchObject({ waiting: 3, running: 1 });
    nowMs = 1_900;
    ends.shift()?.();
    await settle();
    // One batch took 400 ms; the next one started with the third arrival, queued at 0.
    expect(batcher.load('e')).toEqual({ waiting: 1, running: 1, oldestWaitMs: 1_900,
      batchMs: 400 });
    nowMs = 2_900;
    ends.shift()?.();
    await settle();
    expect(batcher.load('e')?.batchMs).toBeCloseTo(400 + 0.2 * (1_000 - 400));
    ends.shift()?.();
    await settle();
    expect(await Promise.all(answers)).toEqual([1, 2, 3, 4, 5]);
    expect(batcher.load('e')).toBeUndefined();
  });
});

describe('the wait a new hold would have', () => {
  const load = (over: Partial<KeyLoad>): KeyLoad =>
    ({ waiting: 0, running: 0, oldestWaitMs: 0, batchMs: 200, ...over });

  it('is nothing on an idle event or while a batch may start at once', () => {
    expect(estimatedWaitMs(undefined, 64, 1)).toBe(0);
    expect(estimatedWaitMs(load({ running: 1 }), 64, 2)).toBe(0);
  });

  it('is the batches ahead at the measured batch time, spread over those in flight', () => {
    // 640 waiting: the newcomer is in the 11th batch of 64.
    expect(estimatedWaitMs(load({ waiting: 640, running: 1 }), 64, 1)).toBe(11 * 200);
    expect(estimatedWaitMs(load({ waiting: 640, running: 2 }), 64, 2)).toBe(6 * 200);
    // The one running batch still has to end first.
    expect(estimatedWaitMs(load({ waiting: 0, running: 1 }), 64, 1)).toBe(200);
  });

  it('is at least the oldest waiter\'s age (a stuck batch shows before it is measured)', () => {
    expect(estimatedWaitMs(load({ waiting: 3, running: 1, oldestWaitMs: 7_000, batchMs: 0 }),
      64, 1)).toBe(7_000);
  });
});

describe('refusing a hold as busy', () => {
  function setup(env: Record<string, string> = {}) {
    const clock = new ManualClock();
    const coord = createMemoryCoordinator({ clock: () => clock.nowMs() });
    const ctx = buildTestContext({} as never, { clock, coord, env });
    let current: KeyLoad | undefined;
    const busy = new StoreBusy(ctx, () => current, { maxBatch: 10, inFlight: 1 });
    return {
      clock, coord, busy,
      load(waiting: number, batchMs: number) {
        current = { waiting, running: 1, oldestWaitMs: 0, batchMs };
      },
    };
  }

  it('lets a hold queue while the wait is within the bound, saying nothing when healthy',
    async () => {
      const { busy, coord, load } = setup();
      load(5, 200);
      busy.admit('e1');
      await settle();
      expect(await readStoreSignal(coord, 'e1')).toBeNull();
    });

  it('refuses past the bound with 503, Retry-After and a signal that says refusing',
    async () => {
      const { busy, coord, load } = setup({ HOLD_BUSY_RETRY_AFTER_SECONDS: '3' });
      load(100, 600); // 11 batches of 600 ms: 6.6 s
      let refused: unknown;
      try {
        busy.admit('e1');
      } catch (error) {
        refused = error;
      }
      expect(refused).toBeInstanceOf(DomainError);
      expect(refused).toMatchObject({ code: 'service_unavailable', status: 503,
        extra: { retryAfterSeconds: 3, reason: 'store_busy' } });
      await settle();
      expect(await readStoreSignal(coord, 'e1')).toEqual({ waitMs: 6_600, refusing: true });
      expect(busy.refusedTotal).toBe(1);
    });

  it('over the target but within the bound: queues the hold and signals the wait', async () => {
    const { busy, coord, load } = setup();
    load(20, 700); // 3 batches: 2.1 s (target 1 s, bound 5 s)
    busy.admit('e1');
    await settle();
    expect(await readStoreSignal(coord, 'e1')).toEqual({ waitMs: 2_100, refusing: false });
  });

  it('publishes at most twice a second, a first refusal at once, and the signal lapses',
    async () => {
      const { busy, coord, load, clock } = setup();
      load(20, 700);
      busy.admit('e1');
      await settle();
      load(30, 700);
      busy.admit('e1');
      await settle();
      expect(await readStoreSignal(coord, 'e1')).toEqual({ waitMs: 2_100, refusing: false });
      load(100, 700);
      expect(() => busy.admit('e1')).toThrow(DomainError);
      await settle();
      expect(await readStoreSignal(coord, 'e1')).toMatchObject({ refusing: true });
      // Refused again within the half second: carried by the next publish.
      clock.advance(100);
      expect(() => busy.admit('e1')).toThrow(DomainError);
      clock.advance(500);
      load(20, 700);
      busy.admit('e1');
      await settle();
      // The refusing report outranks the calmer one (the key keeps the busiest live signal,
      // queue/storePace.ts) until it lapses; then the next publish stands.
      expect(await readStoreSignal(coord, 'e1')).toEqual({ waitMs: 7_700, refusing: true });
      clock.advance(4_300); // 4.9 s after the refusal was published
      expect(await readStoreSignal(coord, 'e1')).toEqual({ waitMs: 7_700, refusing: true });
      clock.advance(200);
      load(20, 700);
      busy.admit('e1');
      await settle();
      expect(await readStoreSignal(coord, 'e1')).toEqual({ waitMs: 2_100, refusing: false });
      clock.advance(5_000);
      expect(await readStoreSignal(coord, 'e1')).toBeNull();
    });

  it('signals the time holds spend on the node before they queue, refusing on the queue alone',
    async () => {
      const { busy, coord, load } = setup({ HOLD_QUEUE_WAIT_MAX_MS: '2000' });
      load(5, 200); // the queue alone: 200 ms, under the 1 s target
      busy.admit('e1', 0);
      await settle();
      expect(await readStoreSignal(coord, 'e1')).toBeNull();
      // Holds that spent 1.5 s on the node before queueing, smoothed (weight 0.2 each).
      for (let i = 0; i < 20; i += 1) busy.admit('e1', 1_500);
      await settle();
      const lead = Math.round(busy.leadMs);
      expect(lead).toBeGreaterThan(1_400);
      expect(await readStoreSignal(coord, 'e1')).toMatchObject({ refusing: false });
      expect((await readStoreSignal(coord, 'e1'))?.waitMs).toBeGreaterThan(1_000);
      // Queue 1.2 s + lead: over the 2 s bound together, but the queue alone decides refusal.
      load(55, 200);
      expect(() => busy.admit('e1', 1_500)).not.toThrow();
      expect(busy.refusedTotal).toBe(0);
      // A control: the same queue with no lead never signalled.
      const control = setup({ HOLD_QUEUE_WAIT_MAX_MS: '2000' });
      control.load(5, 200);
      for (let i = 0; i < 20; i += 1) control.busy.admit('e1', 0);
      await settle();
      expect(await readStoreSignal(control.coord, 'e1')).toBeNull();
    });

  it('never refuses with the bound off', () => {
    const { busy, load } = setup({ HOLD_QUEUE_WAIT_MAX_MS: '0' });
    load(10_000, 2_000);
    expect(() => busy.admit('e1')).not.toThrow();
  });
});

for (const backend of backends) {
  for (const kind of ['memory', 'redis'] as CoordKind[]) {
    const enabled = backend.available && (kind === 'memory' || redisUp);
    describe.skipIf(!enabled)(`a fan refused by a busy store (${backend.name}, ${kind})`, () => {
      let db: Db;
      beforeAll(async () => {
        db = await backend.open();
      });
      afterAll(async () => db?.close());


      /**
       * Two fans in line, one slot. The first is admitted, tries to hold while the store is
       * busy (503 every time, retrying after Retry-After) for longer than the claim grace,
       * and the line ticks meanwhile. Returns who holds a live slot at the end.
       */
      async function scenario(unprotectedSlots: boolean): Promise<{
        firstLive: boolean; secondAdmitted: boolean; statuses: number[];
        retryAfter: (string | undefined)[];
      }> {
        const clock = new ManualClock(Date.now());
        const coord = coordinator(kind, clock);
        let storeBusy = false;
        const busyLoad: KeyLoad = { waiting: 5_000, running: 1, oldestWaitMs: 0, batchMs: 900 };
        const { app, ctx } = await buildTestApp(db, {
          clock, coord, env: { QUEUE_CLAIM_GRACE_SECONDS: '5', QUEUE_TICK_MS: '1000' },
          seams: { holdQueueLoad: () => (storeBusy ? busyLoad : undefined) },
        });
        try {
          const details = await buildEvent(ctx, {
            queue: { enabled: true, admitPerMinute: 600, maxActiveShoppers: 1, passSeconds: 600 },
          });
          const event = await loadEvent(db, details.eventId);
          const [first, second] = await buildCustomers(ctx, 2);
          await joinLine(db, event, [first!.customerId, second!.customerId], undefined);
          const tick = async () => await tickLine(db, event, {
            token: 1, claimGraceSeconds: ctx.config.queue.claimGraceSeconds,
            nowMs: clock.nowMs(), tickMs: 1_000,
            store: { signal: await readStoreSignal(coord, event.eventId),
              knobs: storePaceKnobs(ctx) },
            ...(unprotectedSlots ? { unprotectedSlots: true as const } : {}),
          });
          await tick();
          const admission = await findAdmission(db, event.eventId, first!.customerId,
            clock.nowMs());
          expect(admission?.live).toBe(true);
          const pass = waitingRoom(ctx).passes.sign({
            eventId: event.eventId, customerId: first!.customerId,
            passId: admission!.passId, number: admission!.number,
            expiresAtMs: admission!.expiresAtMs,
          });
          storeBusy = true;
          const statuses: number[] = [];
          const retryAfter: (string | undefined)[] = [];
          // Eight seconds of retries every two (Retry-After), against a grace of five.
          for (let i = 0; i < 4; i++) {
            const reply = await app.inject({
              method: 'POST', url: `/api/v1/events/${event.eventId}/holds`,
              headers: { ...bearer(first!.token), 'x-queue-pass': pass },
              payload: { zone: 'floor', quantity: 1 },
            });
            statuses.push(reply.statusCode);
            retryAfter.push(reply.headers['retry-after'] as string | undefined);
            // The signal goes out without the reply waiting for it.
            for (let wait = 0; wait < 100; wait++) {
              if ((await readStoreSignal(coord, event.eventId))?.refusing === true) break;
              await settle();
            }
            clock.advance(1_000);
            await tick();
            clock.advance(1_000);
            await tick();
          }
          const after = await findAdmission(db, event.eventId, first!.customerId,
            clock.nowMs());
          const secondAdmission = await findAdmission(db, event.eventId, second!.customerId,
            clock.nowMs());
          return {
            firstLive: after?.live === true, secondAdmitted: secondAdmission !== undefined,
            statuses, retryAfter,
          };
        } finally {
          await app.close();
          await coord.close();
        }
      }

      it('control: without the tick\'s protection, the refused fan\'s slot lapses and the '
        + 'next fan takes it', async () => {
        const outcome = await scenario(true);
        expect(outcome.statuses).toEqual([503, 503, 503, 503]);
        expect(outcome.firstLive).toBe(false);
        expect(outcome.secondAdmitted).toBe(true);
      });

      it('the refused fan keeps the slot (503 with Retry-After each time); nobody else is '
        + 'let in over it', async () => {
        const outcome = await scenario(false);
        expect(outcome.statuses).toEqual([503, 503, 503, 503]);
        expect(outcome.retryAfter).toEqual(['2', '2', '2', '2']);
        expect(outcome.firstLive).toBe(true);
        expect(outcome.secondAdmitted).toBe(false);
      });
    });
  }
}

describe.each<CoordKind>(['memory', 'redis'])('the store signal of several nodes (%s)', (kind) => {
  it.skipIf(kind === 'redis' && !redisUp)(
    'is the busiest live one, not the last written; a refusing one outranks any wait',
    async () => {
      const coord = coordinator(kind, new ManualClock());
      const eventId = `e-${randomUUID().slice(0, 8)}`;
      const ttlMs = 60_000; // no expiry within the test; the coord contract covers it
      const publish = (waitMs: number, refusing: boolean) =>
        publishStoreSignal(coord, eventId, { waitMs, refusing }, ttlMs);
      await publish(4_000, false); // node A
      await publish(1_500, false); // node B, written last
      expect(await readStoreSignal(coord, eventId)).toEqual({ waitMs: 4_000, refusing: false });
      await publish(1_200, true); // node C refused holds since its last publish
      await publish(4_500, false);
      expect(await readStoreSignal(coord, eventId)).toEqual({ waitMs: 1_200, refusing: true });
      await publish(6_000, true);
      expect(await readStoreSignal(coord, eventId)).toEqual({ waitMs: 6_000, refusing: true });
      await coord.del(storeSignalKey(coord, eventId));
      await coord.close();
    });
});

for (const backend of backends) {
  for (const kind of ['memory', 'redis'] as CoordKind[]) {
    const enabled = backend.available && (kind === 'memory' || redisUp);
    describe.skipIf(!enabled)(`a retry while the store is busy (${backend.name}, ${kind})`, () => {
      let db: Db;
      beforeAll(async () => {
        db = await backend.open();
      });
      afterAll(async () => db?.close());

      it('gets the recorded reply of its Idempotency-Key; a new key, or one still unanswered, '
        + 'hears busy; another request\'s key is a conflict', async () => {
        const clock = new ManualClock(Date.now());
        const coord = coordinator(kind, clock);
        let storeBusy = false;
        const busyLoad: KeyLoad = { waiting: 5_000, running: 1, oldestWaitMs: 0, batchMs: 900 };
        const { app, ctx } = await buildTestApp(db, {
          clock, coord, seams: { holdQueueLoad: () => (storeBusy ? busyLoad : undefined) },
        });
        try {
          const { eventId } = await buildEvent(ctx);
          const [fan] = await buildCustomers(ctx, 1);
          const hold = (key: string, quantity = 1) => app.inject({
            method: 'POST', url: `/api/v1/events/${eventId}/holds`,
            headers: { ...bearer(fan!.token), 'idempotency-key': key },
            payload: { zone: 'floor', quantity },
          });
          const first = await hold('k-answered');
          expect(first.statusCode, first.body).toBe(201);
          storeBusy = true;
          const retry = await hold('k-answered');
          expect(retry.statusCode, retry.body).toBe(201);
          expect(retry.headers['idempotent-replayed']).toBe('true');
          expect(retry.json()).toEqual(first.json());
          const fresh = await hold('k-new');
          expect(fresh.statusCode).toBe(503);
          expect(fresh.json()).toMatchObject({ reason: 'store_busy' });
          expect(fresh.headers['retry-after']).toBe('2');
          // The refused request recorded nothing: still busy on its retry.
          expect((await hold('k-new')).statusCode).toBe(503);
          const other = await hold('k-answered', 2);
          expect(other.statusCode).toBe(409);
          expect(other.json()).toMatchObject({ code: 'idempotency_conflict' });
          storeBusy = false;
          expect((await hold('k-new')).statusCode).toBe(201);
        } finally {
          await app.close();
          await coord.close();
        }
      });
    });
  }
}
