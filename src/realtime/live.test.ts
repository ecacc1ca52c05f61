/**
 * The live seat map end to end, embedded (PGlite, in-process coordination) and on
 * PostgreSQL + Redis: two app instances share the database and the coordinator, the
 * outbox relay and the sweeper run as duties, and real SSE and WebSocket clients on node 2
 * see what happens on node 1.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { cancelEvent } from '../catalog/cancel.js';
import type { AppContext } from '../context.js';
import { createMemoryCoordinator } from '../coord/memory.js';
import { createRedisCoordinator, type Coordinator } from '../coord/index.js';
import { releaseHold } from '../holds/holds.js';
import type { App } from '../http/types.js';
import { getSeatMap } from '../inventory/seatmap.js';
import { startBookingWorkers } from '../orders/workers.js';
import { OutboxRelay } from '../outbox/relay.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { adminHeaders, buildTestContext } from '../testing/context.js';
import { buildCustomers, buildEvent, buildHold, buildVenue } from '../testing/factories.js';
import {
  RefusedUpgrade, SseTestClient, WsTestClient, type ReceivedMessage,
} from '../testing/live.js';
import { deleteRedisPrefix, serviceAvailable, testRedisUrl } from '../testing/services.js';
import { buildApp } from '../http/app.js';
import { feedChannel, liveFeedSink, type FeedBatch } from '../outbox/feed.js';
import { liveHub } from './hub.js';

const backends = await testBackends();
const postgres = backends.find((b) => b.name === 'postgres');
const pglite = backends.find((b) => b.name === 'pglite');
const redisUp = await serviceAvailable('Redis', testRedisUrl);
const prefix = `test:live:${randomUUID().slice(0, 8)}:`;

interface Setup {
  name: string;
  enabled: boolean;
  open(): Promise<Db>;
  coordinator(name: string): Coordinator;
  /** Coordinators fail independently (separate processes in a cluster). */
  separateNodes: boolean;
}

let shared: Coordinator | undefined;
const setups: Setup[] = [
  {
    name: 'embedded (PGlite, in-process coordination)', enabled: pglite?.available === true,
    open: () => (pglite as NonNullable<typeof pglite>).open(),
    coordinator: () => (shared ??= createMemoryCoordinator({})),
    separateNodes: false,
  },
  {
    name: 'PostgreSQL + Redis', enabled: postgres?.available === true && redisUp,
    open: () => (postgres as NonNullable<typeof postgres>).open(),
    coordinator: (name) => createRedisCoordinator({
      url: testRedisUrl, prefix, name: `test-live-${name}`, logger: { warn: () => undefined },
    }),
    separateNodes: true,
  },
];

/** Deletes every Redis key under this file's prefix (never FLUSHALL). */
async function flushPrefix(): Promise<void> {
  if (redisUp) await deleteRedisPrefix(prefix);
}

interface Node {
  ctx: AppContext;
  app: App;
  base: string;
  ws: string;
  relay: OutboxRelay;
  stop(): Promise<void>;
}

const quickEnv = {
  OUTBOX_RELAY_POLL_MS: '50', OUTBOX_LEADER_TTL_MS: '1000', HOLD_SWEEP_MS: '100',
  LIVE_HEARTBEAT_MS: '1000',
};

for (const setup of setups) {
  describe.skipIf(!setup.enabled)(`live seat map: ${setup.name}`, () => {
    let db: Db;
    const nodes: Node[] = [];

    async function startNode(name: string, env: Record<string, string> = {}): Promise<Node> {
      const coord = setup.coordinator(name);
      const ctx = buildTestContext(db, { coord, env: { ...quickEnv, ...env } });
      const app = await buildApp(ctx);
      await app.listen({ port: 0, host: '127.0.0.1' });
      const address = app.server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      const relay = new OutboxRelay(ctx, { sinks: [liveFeedSink(coord)],
        holderId: `relay-${name}` });
      await relay.start();
      const booking = startBookingWorkers(ctx);
      let stopped = false;
      const node: Node = {
        ctx, app, relay, base: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}`,
        async stop() {
          if (stopped) return;
          stopped = true;
          await relay.stop();
          await booking.stop();
          await app.close();
          if (setup.separateNodes) await coord.close().catch(() => undefined);
        },
      };
      nodes.push(node);
      return node;
    }

    beforeAll(async () => {
      db = await setup.open();
    });
    // Each test's nodes go away with it, so the next test's relay can lead.
    afterEach(async () => {
      for (const node of nodes.splice(0)) await node.stop().catch(() => undefined);
    });
    afterAll(async () => {
      if (!setup.separateNodes) await shared?.close().catch(() => undefined);
      shared = undefined;
      await flushPrefix();
      await db?.close();
    });

    const liveUrl = (node: Node, eventId: string): string =>
      `${node.base}/api/v1/events/${eventId}/live`;
    const wsUrl = (node: Node, eventId: string): string =>
      `${node.ws}/api/v1/events/${eventId}/ws`;
    const seatIs = (seatId: string, status: string) => (m: ReceivedMessage): boolean =>
      m.type === 'seats' && (m.data.changes as { seatId: string; status: string }[])
        .some((c) => c.seatId === seatId && c.status === status);

    it('a hold, a release and an expiry on node 1 reach SSE and WebSocket clients on node 2',
      async () => {
        const [one, two] = [await startNode('a1'), await startNode('a2')];
        const event = await buildEvent(one.ctx, { holdSeconds: 2 });
        const [fan] = await buildCustomers(one.ctx, 1);
        const sse = await SseTestClient.open(liveUrl(two, event.eventId));
        const ws = await WsTestClient.open(wsUrl(two, event.eventId));
        try {
          expect(sse.status).toBe(200);
          expect(sse.headers['content-type']).toMatch(/^text\/event-stream/);
          const first = await sse.waitFor((m) => m.type === 'snapshot');
          expect(first.data.version).toBe(0);
          await ws.waitFor((m) => m.type === 'snapshot');

          const heldAt = Date.now();
          const hold = await buildHold(one.ctx, event.eventId, fan!.customerId,
            { seats: ['A-1-1', 'A-1-2'] });
          const [sseHeld, wsHeld] = await Promise.all([
            sse.waitFor(seatIs('A-1-1', 'held')), ws.waitFor(seatIs('A-1-2', 'held'))]);
          expect(sseHeld.atMs - heldAt).toBeLessThan(1_000);
          expect(wsHeld.atMs - heldAt).toBeLessThan(1_000);
          const availability = await sse.waitFor((m) => m.type === 'availability');
          expect(availability.data.zones).toContainEqual(
            { key: 'seats', capacity: 50, available: 48, held: 2, sold: 0 });

          const releasedAt = Date.now();
          await releaseHold(one.ctx.db, fan!.customerId, hold.holdId);
          const [sseFree, wsFree] = await Promise.all([
            sse.waitFor(seatIs('A-1-1', 'available')), ws.waitFor(seatIs('A-1-1', 'available'))]);
          expect(sseFree.atMs - releasedAt).toBeLessThan(1_000);
          expect(wsFree.atMs - releasedAt).toBeLessThan(1_000);

          // Nobody releases this one: the sweeper turns it `expired` and the map follows.
          const lapsing = await buildHold(one.ctx, event.eventId, fan!.customerId,
            { seats: ['A-2-5'] });
          await sse.waitFor(seatIs('A-2-5', 'held'));
          const expiresAtMs = Date.parse(lapsing.expiresAt);
          const [sseExpired, wsExpired] = await Promise.all([
            sse.waitFor(seatIs('A-2-5', 'available'), 10_000),
            ws.waitFor(seatIs('A-2-5', 'available'), 10_000)]);
          expect(sseExpired.atMs - expiresAtMs).toBeLessThan(1_000);
          expect(wsExpired.atMs - expiresAtMs).toBeLessThan(1_000);
          const { rows } = await db.query<{ state: string }>(
            'SELECT state FROM holds WHERE hold_id = $1', [lapsing.holdId]);
          expect(rows[0]?.state).toBe('expired');
          // Every step followed the one before: no version was skipped on either client.
          expect([sse.gaps, ws.gaps]).toEqual([0, 0]);
          expect(sse.version).toBe((await getSeatMap(db, event.eventId)).version);
        } finally {
          sse.close();
          ws.close();
        }
      });

    it('SSE resumes from Last-Event-ID with just the missed steps, else a snapshot', async () => {
      const node = await startNode('resume');
      const event = await buildEvent(node.ctx);
      const [fan] = await buildCustomers(node.ctx, 1);
      // Another watcher keeps the node following the event while the first is away.
      const keeper = await SseTestClient.open(liveUrl(node, event.eventId));
      const first = await SseTestClient.open(liveUrl(node, event.eventId));
      try {
        await buildHold(node.ctx, event.eventId, fan!.customerId, { seats: ['A-3-1'] });
        const step = await first.waitFor(seatIs('A-3-1', 'held'));
        first.close();
        await buildHold(node.ctx, event.eventId, fan!.customerId, { seats: ['A-3-2'] });
        await buildHold(node.ctx, event.eventId, fan!.customerId, { seats: ['A-3-3'] });
        await keeper.waitFor(seatIs('A-3-3', 'held'));
        const resumed = await SseTestClient.open(liveUrl(node, event.eventId),
          { 'last-event-id': String(step.id) });
        try {
          await resumed.waitFor(seatIs('A-3-3', 'held'));
          expect(resumed.messages.map((m) => m.type)).not.toContain('snapshot');
          expect(resumed.messages[0]?.data.prevVersion).toBe(Number(step.id));
        } finally {
          resumed.close();
        }
        // A version this node never had (or long gone) gets a snapshot instead.
        const stale = await SseTestClient.open(liveUrl(node, event.eventId),
          { 'last-event-id': '999999' });
        try {
          const snapshot = await stale.waitFor((m) => m.type === 'snapshot');
          expect(snapshot.data.version).toBe(keeper.version);
        } finally {
          stale.close();
        }
      } finally {
        keeper.close();
      }
    });

    it('a forced version gap gives every client a fresh snapshot', async () => {
      const [one, two] = [await startNode('g1'), await startNode('g2')];
      const event = await buildEvent(one.ctx);
      const [fan] = await buildCustomers(one.ctx, 1);
      const sse = await SseTestClient.open(liveUrl(two, event.eventId));
      const ws = await WsTestClient.open(wsUrl(two, event.eventId));
      try {
        await buildHold(one.ctx, event.eventId, fan!.customerId, { seats: ['A-4-1'] });
        await sse.waitFor(seatIs('A-4-1', 'held'));
        await ws.waitFor(seatIs('A-4-1', 'held'));
        const before = { sse: sse.messages.length, ws: ws.messages.length };
        // A batch from the future: version 50 when the node is at 1 (versions 2..49 lost).
        const bogus: FeedBatch = { eventId: event.eventId,
          rows: [{ version: 50, effect: 'held', tickets: [[1, 'A-1-1']] }] };
        await one.ctx.coord.publish(feedChannel(one.ctx.coord, event.eventId),
          JSON.stringify(bogus));
        const fresh = await sse.waitFor((m) => m.type === 'snapshot', 10_000, before.sse);
        await ws.waitFor((m) => m.type === 'snapshot', 10_000, before.ws);
        // The snapshot is the database's truth, not the bogus batch.
        expect(fresh.data.version).toBe(1);
        expect(sse.seatStatus('A-1-1')).toBeUndefined();
        expect(liveHub(two.ctx).stats().resyncs).toBeGreaterThanOrEqual(1);
        // And the feed goes on from there.
        await buildHold(one.ctx, event.eventId, fan!.customerId, { seats: ['A-4-2'] });
        const next = await sse.waitFor(seatIs('A-4-2', 'held'));
        expect(next.data.prevVersion).toBe(1);
        // A WebSocket client may also ask for a snapshot itself.
        const asked = ws.messages.length;
        ws.requestSnapshot();
        const again = await ws.waitFor((m) => m.type === 'snapshot', 10_000, asked);
        expect(again.data.version).toBe(2);
      } finally {
        sse.close();
        ws.close();
      }
    });

    it('a client that stops reading is dropped; the others keep receiving', async () => {
      const node = await startNode('slow', { LIVE_MAX_BUFFERED_BYTES: '1048576' });
      const venue = await buildVenue(node.ctx, { rows: 20, seatsPerRow: 50, standing: 10 });
      const event = await buildEvent(node.ctx, { venue });
      const slow = await SseTestClient.open(liveUrl(node, event.eventId));
      const fast = await SseTestClient.open(liveUrl(node, event.eventId));
      const ws = await WsTestClient.open(wsUrl(node, event.eventId));
      try {
        await slow.waitFor((m) => m.type === 'snapshot');
        await fast.waitFor((m) => m.type === 'snapshot');
        await ws.waitFor((m) => m.type === 'snapshot');
        slow.pause();
        expect(liveHub(node.ctx).stats().clients).toBe(3);
        // Batches as the relay would publish them, each flipping all 1,000 seats (~40 KB).
        const tickets: [number, string][] = [];
        for (let row = 1; row <= 20; row++) {
          for (let seat = 1; seat <= 50; seat++) tickets.push([tickets.length + 1, `A-${row}-${seat}`]);
        }
        // ~16 MB in all: more than the socket buffers and the 1 MiB allowance together.
        const batches = 400;
        for (let version = 1; version <= batches; version++) {
          const batch: FeedBatch = { eventId: event.eventId,
            rows: [{ version, effect: version % 2 === 1 ? 'held' : 'available', tickets }] };
          await node.ctx.coord.publish(feedChannel(node.ctx.coord, event.eventId),
            JSON.stringify(batch));
          // Paced like a real feed: bursts well under the allowance, which the reading
          // clients drain before the next (this process runs both ends).
          if (version % 10 === 0) {
            const caughtUp = (m: ReceivedMessage): boolean =>
              m.type === 'seats' && m.data.version === version;
            await Promise.all([fast.waitFor(caughtUp, 60_000), ws.waitFor(caughtUp, 60_000)]);
          }
        }
        await fast.waitFor((m) => m.type === 'seats' && m.data.version === batches, 60_000);
        await ws.waitFor((m) => m.type === 'seats' && m.data.version === batches, 60_000);
        expect([fast.gaps, ws.gaps]).toEqual([0, 0]);
        // The paused one was cut off long before: the node holds no backlog for it.
        expect(liveHub(node.ctx).stats().clients).toBe(2);
        expect(slow.version).toBeLessThan(batches);
      } finally {
        slow.close();
        fast.close();
        ws.close();
      }
    }, 240_000);

    it('caps live streams per address and per node with problem+json', async () => {
      const node = await startNode('caps', { LIVE_MAX_PER_ADDRESS: '2', LIVE_MAX_CONNECTIONS: '3' });
      const event = await buildEvent(node.ctx);
      // An unknown event is a plain 404, and takes no slot.
      for (let i = 0; i < 3; i++) {
        const missing = await SseTestClient.open(liveUrl(node, randomUUID()));
        expect(missing.status).toBe(404);
        await missing.waitClosed();
        expect(JSON.parse(missing.body)).toMatchObject({ code: 'not_found' });
      }
      const bad = await SseTestClient.open(liveUrl(node, 'not-an-id'));
      expect(bad.status).toBe(404);
      const open = [await SseTestClient.open(liveUrl(node, event.eventId)),
        await WsTestClient.open(wsUrl(node, event.eventId))];
      try {
        const refused = await SseTestClient.open(liveUrl(node, event.eventId));
        expect(refused.status).toBe(429);
        expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        await refused.waitClosed();
        expect(JSON.parse(refused.body)).toMatchObject({ code: 'live_too_many_streams' });
        const upgrade = await WsTestClient.open(wsUrl(node, event.eventId))
          .then(() => undefined, (error: unknown) => error);
        expect(upgrade).toBeInstanceOf(RefusedUpgrade);
        expect((upgrade as RefusedUpgrade).status).toBe(429);
        expect(JSON.parse((upgrade as RefusedUpgrade).body))
          .toMatchObject({ code: 'live_too_many_streams' });
        // Closing one gives its slot back.
        open.shift()?.close();
        await sleep(100);
        const third = await SseTestClient.open(liveUrl(node, event.eventId));
        open.push(third as unknown as WsTestClient);
        expect(third.status).toBe(200);
      } finally {
        for (const client of open) client.close();
      }
    });

    it('per node: the node cap answers 503 live_node_full', async () => {
      const node = await startNode('full', { LIVE_MAX_CONNECTIONS: '1' });
      const event = await buildEvent(node.ctx);
      const first = await SseTestClient.open(liveUrl(node, event.eventId));
      try {
        const refused = await SseTestClient.open(liveUrl(node, event.eventId));
        expect(refused.status).toBe(503);
        await refused.waitClosed();
        expect(JSON.parse(refused.body)).toMatchObject({ code: 'live_node_full', status: 503 });
      } finally {
        first.close();
      }
    });

    it('the node follows an event only while it has clients for it', async () => {
      const node = await startNode('follow');
      const event = await buildEvent(node.ctx);
      const hub = liveHub(node.ctx);
      const paths = Object.keys((await node.app.inject('/openapi.json')).json().paths);
      expect(paths).toEqual(expect.arrayContaining(
        ['/api/v1/events/{eventId}/live', '/api/v1/events/{eventId}/ws']));
      expect(hub.follows(event.eventId)).toBe(false);
      const plain = await node.app.inject(`/api/v1/events/${event.eventId}/ws`);
      expect(plain.statusCode).toBe(426);
      expect(plain.json()).toMatchObject({ code: 'upgrade_required' });
      const sse = await SseTestClient.open(liveUrl(node, event.eventId));
      await sse.waitFor((m) => m.type === 'snapshot');
      expect(hub.follows(event.eventId)).toBe(true);
      sse.close();
      const deadline = Date.now() + 5_000;
      while (hub.follows(event.eventId) && Date.now() < deadline) await sleep(20);
      expect(hub.follows(event.eventId)).toBe(false);
    });

    it('only the WebSocket routes take an upgrade; elsewhere it is a 404, closed', async () => {
      const node = await startNode('upgrades');
      const event = await buildEvent(node.ctx);
      // The plugin lives in the live feed's scope: other routes carry none of its hooks.
      expect(node.app.hasRequestDecorator('ws')).toBe(false);
      for (const path of [`/api/v1/events/${event.eventId}/live`, '/healthz',
        `/api/v1/events/${event.eventId}/queue`, '/api/v1/nothing-here']) {
        const refused = await WsTestClient.open(`${node.ws}${path}`)
          .then(() => undefined, (error: unknown) => error);
        expect(refused, path).toBeInstanceOf(RefusedUpgrade);
        expect((refused as RefusedUpgrade).status, path).toBe(404);
        expect(JSON.parse((refused as RefusedUpgrade).body), path)
          .toMatchObject({ code: 'not_found', status: 404 });
      }
      const ws = await WsTestClient.open(`${wsUrl(node, event.eventId)}?client=1`);
      try {
        await ws.waitFor((m) => m.type === 'snapshot');
      } finally {
        ws.close();
      }
    });

    it('cancelling the event ends the feed on both transports', async () => {
      const [one, two] = [await startNode('c1'), await startNode('c2')];
      const event = await buildEvent(one.ctx);
      const sse = await SseTestClient.open(liveUrl(two, event.eventId));
      const ws = await WsTestClient.open(wsUrl(two, event.eventId));
      try {
        await sse.waitFor((m) => m.type === 'snapshot');
        await ws.waitFor((m) => m.type === 'snapshot');
        const url = `/api/v1/events/${event.eventId}/cancel`;
        expect((await one.app.inject({ method: 'POST', url })).statusCode).toBe(401);
        expect(sse.messages.map((m) => m.type)).toEqual(['snapshot']);
        const cancelled = await one.app.inject({ method: 'POST', url, headers: adminHeaders });
        expect(cancelled.statusCode).toBe(200);
        expect(cancelled.json()).toMatchObject({ status: 'cancelled' });
        // Idempotent: a second cancel writes no second `end`.
        await cancelEvent(one.ctx.db, event.eventId);
        const [sseEnd, wsEnd] = await Promise.all([
          sse.waitFor((m) => m.type === 'end'), ws.waitFor((m) => m.type === 'end')]);
        expect(sseEnd.data.reason).toBe('cancelled');
        expect(wsEnd.data.reason).toBe('cancelled');
        await sse.waitClosed();
        await ws.waitClosed();
        const { rows } = await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM outbox_events
            WHERE event_id = $1 AND kind = 'event.cancelled'`, [event.eventId]);
        expect(rows[0]?.n).toBe(1);
        // A latecomer gets the final map and the end at once.
        const late = await SseTestClient.open(liveUrl(two, event.eventId));
        await late.waitFor((m) => m.type === 'end');
        expect(late.messages.map((m) => m.type)).toEqual(['snapshot', 'end']);
        await late.waitClosed();
      } finally {
        sse.close();
        ws.close();
      }
    });

    it.skipIf(!setup.separateNodes)(
      'the relay leader dies mid-stream; the other node takes over and no version is lost',
      async () => {
        const nodesUp = [await startNode('k1'), await startNode('k2')];
        // Whichever node's relay leads is the one that dies; clients watch the other.
        const deadline = Date.now() + 10_000;
        while (!nodesUp.some((n) => n.relay.elector.isLeader()) && Date.now() < deadline) {
          await sleep(50);
        }
        const leaderIndex = nodesUp.findIndex((n) => n.relay.elector.isLeader());
        expect(leaderIndex).toBeGreaterThanOrEqual(0);
        const one = nodesUp[leaderIndex] as Node;
        const two = nodesUp[1 - leaderIndex] as Node;
        expect(two.relay.elector.isLeader()).toBe(false);
        const event = await buildEvent(one.ctx, {});
        const fans = await buildCustomers(one.ctx, 30);
        const sse = await SseTestClient.open(liveUrl(two, event.eventId));
        const ws = await WsTestClient.open(wsUrl(two, event.eventId));
        try {
          await sse.waitFor((m) => m.type === 'snapshot');
          await ws.waitFor((m) => m.type === 'snapshot');
          let killed = false;
          for (const [i, fan] of fans.entries()) {
            // Writes keep coming through node 2 while node 1 loses Redis for good (as if
            // killed): it cannot renew, steps down, and node 2's relay takes over.
            await buildHold(two.ctx, event.eventId, fan.customerId, { zone: 'floor', quantity: 1 });
            if (i === 10 && !killed) {
              killed = true;
              await one.ctx.coord.close();
            }
            await sleep(30);
          }
          // The surviving relay stamps every hold: one version each, none lost or doubled.
          const version = fans.length;
          const deadline = Date.now() + 15_000;
          while ((await getSeatMap(db, event.eventId)).version < version) {
            if (Date.now() > deadline) throw new Error('the relay did not catch up');
            await sleep(50);
          }
          expect((await getSeatMap(db, event.eventId)).version).toBe(version);
          await sse.waitFor((m) => m.type === 'seats' && m.data.version === version, 15_000);
          await ws.waitFor((m) => m.type === 'seats' && m.data.version === version, 15_000);
          expect(two.relay.elector.isLeader()).toBe(true);
          // Every version arrived in order, none twice as a step, and no resync was needed.
          for (const client of [sse, ws]) {
            const steps = client.messages.filter((m) => m.type === 'seats');
            expect(steps.map((m) => m.data.prevVersion)).toEqual(
              [0, ...steps.slice(0, -1).map((m) => m.data.version)]);
            expect(client.gaps).toBe(0);
            expect(client.messages.filter((m) => m.type === 'snapshot')).toHaveLength(1);
          }
          const last = sse.messages.filter((m) => m.type === 'availability').at(-1);
          expect(last?.data.zones).toContainEqual(
            { key: 'floor', capacity: 100, available: 70, held: 30, sold: 0 });
        } finally {
          sse.close();
          ws.close();
        }
      }, 60_000);
  });
}
