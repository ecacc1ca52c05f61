/**
 * The waiting room over HTTP: join and me (inject), the pass on a real hold, rate limits,
 * proof of work, and the SSE stream on a real port read by a real streaming client.
 */
import { randomUUID } from 'node:crypto';

import { solveChallenge } from 'altcha-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadEvent } from '../catalog/events.js';
import type { QueueSettings } from '../catalog/schemas.js';
import type { AppContext } from '../context.js';
import { bookingDeps } from '../orders/workers.js';
import { checkout } from '../orders/checkout.js';
import { OutboxRelay } from '../outbox/relay.js';
import { AdmissionDuty } from '../queue/duty.js';
import { confirmedOrdersSink } from '../queue/ordersSink.js';
import { spendJoinProof } from '../queue/pow.js';
import { waitingRoom } from '../queue/room.js';
import type { QueueView } from '../queue/types.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import { bearer, buildCustomer, buildEvent, buildHold } from '../testing/factories.js';
import { streamSlots } from './streamSlots.js';
import type { App } from './types.js';

const backends = await testBackends();
const [backend] = backends;
if (backend === undefined) throw new Error('no test backend');
// Stream caps are shown on a database reached over the network when there is one: there
// the handler's awaits really interleave, so a burst can race a cap that is checked
// before them and counted after.
const networked = backends.find((b) => b.name === 'postgres' && b.available) ?? backend;

/** Reads SSE frames from a fetch response body, by hand. */
class SseReader {
  private buffer = '';
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();

  constructor(body: ReadableStream<Uint8Array>) {
    this.reader = body.getReader();
  }

  /** The next frame (comments included) as its field lines, within `timeoutMs`. */
  async next(timeoutMs = 5_000): Promise<{ comment?: string; id?: string; event?: string;
    data?: string; retry?: string }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end >= 0) {
        const frame = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const fields: Record<string, string> = {};
        for (const line of frame.split('\n')) {
          if (line.startsWith(':')) fields.comment = line.slice(1).trim();
          const match = /^(id|event|data|retry): ?(.*)$/.exec(line);
          if (match) fields[match[1] as string] = match[2] as string;
        }
        return fields;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no SSE frame in time');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no SSE frame in time')), left);
      });
      try {
        const { value, done } = await Promise.race([this.reader.read(), timeout]);
        if (done) throw new Error('stream ended');
        this.buffer += this.decoder.decode(value, { stream: true });
      } finally {
        clearTimeout(timer);
      }
    }
  }

  /** The next `queue` message, skipping heartbeats. */
  async nextView(timeoutMs = 5_000): Promise<{ id: string; view: QueueView }> {
    for (;;) {
      const frame = await this.next(timeoutMs);
      if (frame.event === 'queue' && frame.data !== undefined) {
        return { id: frame.id ?? '', view: JSON.parse(frame.data) as QueueView };
      }
    }
  }

  /** Reads until the server ends the stream; returns the frames read on the way. */
  async toEnd(timeoutMs = 5_000): Promise<{ event?: string; data?: string }[]> {
    const frames: { event?: string; data?: string }[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        frames.push(await this.next(Math.max(1, deadline - Date.now())));
      } catch (error) {
        if ((error as Error).message === 'stream ended') return frames;
        throw error;
      }
    }
  }

  async cancel(): Promise<void> {
    await this.reader.cancel().catch(() => undefined);
  }
}

describe(`waiting room over HTTP (${backend.name})`, () => {
  let db: Db;
  let app: App;
  let ctx: AppContext;
  let duty: AdmissionDuty;

  beforeAll(async () => {
    db = await backend.open();
    ({ app, ctx } = await buildTestApp(db, {
      env: {
        RATE_LIMIT_JOINS_PER_CUSTOMER: '3', QUEUE_SSE_HEARTBEAT_MS: '200',
        RATE_LIMIT_QUEUE_POLLS_PER_CUSTOMER: '10',
        QUEUE_POW_MAX_NUMBER: '2000', QUEUE_TICK_MS: '60000',
      },
    }));
    // Elected but never timer-driven here: tests call tickOnce() when they want a tick.
    duty = new AdmissionDuty(ctx);
    await duty.start();
  });
  afterAll(async () => {
    await duty?.stop();
    await app?.close();
    await db?.close();
  });

  async function queuedEvent(queue: Partial<QueueSettings> = {}): Promise<string> {
    const event = await buildEvent(ctx, {
      queue: { enabled: true, admitPerMinute: 6_000, maxActiveShoppers: 2, ...queue },
    });
    return event.eventId;
  }

  async function join(eventId: string, token: string, body?: object) {
    return await app.inject({
      method: 'POST', url: `/api/v1/events/${eventId}/queue`, headers: bearer(token),
      ...(body === undefined ? {} : { payload: body }),
    });
  }

  async function me(eventId: string, token: string): Promise<QueueView> {
    const reply = await app.inject({
      method: 'GET', url: `/api/v1/events/${eventId}/queue/me`, headers: bearer(token),
    });
    expect(reply.statusCode).toBe(200);
    return reply.json<QueueView>();
  }

  it('a revoked token joins nothing: refused by the join batch, then by the hook', async () => {
    const eventId = await queuedEvent();
    const [fan, other] = [await buildCustomer(ctx), await buildCustomer(ctx)];
    // Revoked behind this node's back (as another node does): its cache knows nothing.
    await db.query(
      'UPDATE customers SET token_version = token_version + 1 WHERE customer_id = ANY($1)',
      [[fan.customerId, other.customerId]]);
    const refused = await join(eventId, fan.token);
    expect([refused.statusCode, refused.json().code]).toEqual([401, 'unauthorized']);
    const { rows } = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM queue_entries WHERE customer_id = $1', [fan.customerId]);
    expect(rows[0]?.n).toBe(0);
    // The node learned the version from the batch: the hook refuses the next request.
    expect((await join(eventId, fan.token)).statusCode).toBe(401);
    // An event without a queue answers without a batch: the version is read first.
    const open = await buildEvent(ctx);
    expect((await join(open.eventId, other.token)).statusCode).toBe(401);
  });

  it('joins once, reports the place, admits on a tick, and the pass opens holds', async () => {
    const eventId = await queuedEvent();
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => buildCustomer(ctx)));
    const first = await join(eventId, a!.token);
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ state: 'waiting', number: 1, position: 1 });
    expect((await join(eventId, a!.token)).statusCode).toBe(200);
    await join(eventId, b!.token);
    await join(eventId, c!.token);
    expect(await me(eventId, c!.token)).toMatchObject({ state: 'waiting', number: 3, position: 3 });

    const refused = await app.inject({
      method: 'POST', url: `/api/v1/events/${eventId}/holds`,
      headers: { ...bearer(a!.token), 'idempotency-key': randomUUID() },
      payload: { zone: 'floor', quantity: 2 },
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ code: 'queue_pass_required' });

    await duty.tickOnce();
    const admitted = await me(eventId, a!.token);
    expect(admitted).toMatchObject({ state: 'admitted', position: 0, servedUpTo: 2 });
    // Admitted, pass not used yet: the first hold must come by claimBy.
    expect(Date.parse(admitted.claimBy ?? '')).toBeGreaterThan(Date.now());
    expect(await me(eventId, c!.token)).toMatchObject({ state: 'waiting', position: 1 });

    const held = await app.inject({
      method: 'POST', url: `/api/v1/events/${eventId}/holds`,
      headers: { ...bearer(a!.token), 'idempotency-key': randomUUID(),
        'x-queue-pass': admitted.pass as string },
      payload: { zone: 'floor', quantity: 2 },
    });
    expect(held.statusCode).toBe(201);
    expect((await me(eventId, a!.token)).claimBy).toBeUndefined();
    const stolen = await app.inject({
      method: 'POST', url: `/api/v1/events/${eventId}/holds`,
      headers: { ...bearer(b!.token), 'idempotency-key': randomUUID(),
        'x-queue-pass': admitted.pass as string },
      payload: { zone: 'floor', quantity: 1 },
    });
    expect(stolen.statusCode).toBe(403);
    expect(stolen.json().detail).toMatch(/another customer/);
  });

  it('answers 404 for a fan not in line and lets everyone in on a queue-less event', async () => {
    const eventId = await queuedEvent();
    const fan = await buildCustomer(ctx);
    const reply = await app.inject({
      method: 'GET', url: `/api/v1/events/${eventId}/queue/me`, headers: bearer(fan.token),
    });
    expect(reply.statusCode).toBe(404);
    const open = await buildEvent(ctx);
    const joined = await join(open.eventId, fan.token);
    expect(joined.json()).toMatchObject({ state: 'admitted' });
    expect((await join(randomUUID(), fan.token)).statusCode).toBe(404);
    const bad = await join(eventId, fan.token, { proofOfWork: 'x', extra: 1 });
    expect(bad.statusCode).toBe(400);
  });

  it('rate-limits joins per customer with 429 and Retry-After', async () => {
    const eventId = await queuedEvent();
    const fan = await buildCustomer(ctx);
    const codes: number[] = [];
    for (let i = 0; i < 4; i += 1) codes.push((await join(eventId, fan.token)).statusCode);
    expect(codes).toEqual([201, 200, 200, 429]);
    const limited = await join(eventId, fan.token);
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ code: 'rate_limited' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Another fan is not affected.
    const other = await buildCustomer(ctx);
    expect((await join(eventId, other.token)).statusCode).toBe(201);
  });

  it('rate-limits queue/me polls per customer', async () => {
    const eventId = await queuedEvent();
    const fan = await buildCustomer(ctx);
    await join(eventId, fan.token);
    const poll = () => app.inject({
      method: 'GET', url: `/api/v1/events/${eventId}/queue/me`, headers: bearer(fan.token),
    });
    for (let i = 0; i < 10; i += 1) expect((await poll()).statusCode).toBe(200);
    const limited = await poll();
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ code: 'rate_limited' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('asks for a solved, single-use proof of work when the event wants one', async () => {
    const eventId = await queuedEvent({ proofOfWork: true });
    const [fan, other] = await Promise.all([buildCustomer(ctx), buildCustomer(ctx)]);
    const missing = await join(eventId, other.token);
    expect(missing.statusCode).toBe(403);
    expect(missing.json()).toMatchObject({ code: 'proof_of_work_required',
      challengeUrl: `/api/v1/events/${eventId}/queue/challenge` });

    const solve = async (token: string): Promise<string> => {
      const reply = await app.inject({
        method: 'GET', url: `/api/v1/events/${eventId}/queue/challenge`, headers: bearer(token),
      });
      const challenge = reply.json<{ challenge: string; salt: string; signature: string;
        algorithm: string; maxnumber: number }>();
      const solution = await solveChallenge(challenge.challenge, challenge.salt,
        challenge.algorithm, challenge.maxnumber).promise;
      return Buffer.from(JSON.stringify({ algorithm: challenge.algorithm,
        challenge: challenge.challenge, number: solution?.number, salt: challenge.salt,
        signature: challenge.signature })).toString('base64');
    };
    const proof = await solve(fan.token);
    const forged = JSON.parse(Buffer.from(proof, 'base64').toString()) as { number: number };
    const wrong = Buffer.from(JSON.stringify({ ...forged, number: forged.number + 1 }))
      .toString('base64');
    expect((await join(eventId, fan.token, { proofOfWork: wrong })).json().detail)
      .toMatch(/wrong/);
    expect((await join(eventId, other.token, { proofOfWork: proof })).json().detail)
      .toMatch(/another customer/);
    expect((await join(eventId, fan.token, { proofOfWork: proof })).statusCode).toBe(201);
    // Already in line: re-joining needs no new work.
    expect((await join(eventId, fan.token)).statusCode).toBe(200);
    // And the proof is spent.
    expect(await spendJoinProof(ctx, eventId, fan.customerId, proof)).toBe('reused');
  });

  describe('the SSE stream on a real port', () => {
    let base: string;

    beforeAll(async () => {
      const address = await app.listen({ port: 0, host: '127.0.0.1' });
      base = address;
    });

    async function open(eventId: string, token: string, lastEventId?: string) {
      const controller = new AbortController();
      const response = await fetch(`${base}/api/v1/events/${eventId}/queue/stream`, {
        headers: { ...bearer(token), ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
        signal: controller.signal,
      });
      return { response, controller };
    }

    it('pushes each tick as a new position, then the pass; resumes by Last-Event-ID', async () => {
      const eventId = await queuedEvent({ maxActiveShoppers: 1, passSeconds: 600 });
      const fans = await Promise.all([1, 2, 3].map(() => buildCustomer(ctx)));
      for (const fan of fans) await join(eventId, fan.token);
      const last = fans[2]!;
      const { response, controller } = await open(eventId, last.token);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(response.headers.get('content-encoding')).toBeNull();
      const sse = new SseReader(response.body as ReadableStream<Uint8Array>);
      expect((await sse.next()).retry).toBe('3000');
      const initial = await sse.nextView();
      expect(initial.view).toMatchObject({ state: 'waiting', position: 3 });

      await duty.tickOnce();
      const moved = await sse.nextView();
      expect(moved.view).toMatchObject({ state: 'waiting', position: 2, servedUpTo: 1 });
      expect(Number(moved.id)).toBeGreaterThan(Number(initial.id));

      // Heartbeats keep the stream alive between ticks.
      let frame = await sse.next();
      while (frame.comment === undefined) frame = await sse.next();
      expect(frame.comment).toBe('hb');

      // The first shopper finishes; slots free; the line moves twice.
      for (const fan of fans.slice(0, 2)) {
        await me(eventId, fan.token);
        await ctx.db.query(
          'UPDATE queue_admissions SET released_at = now() WHERE customer_id = $1',
          [fan.customerId],
        );
        await duty.tickOnce();
      }
      let view = await sse.nextView();
      while (view.view.state === 'waiting') view = await sse.nextView();
      expect(view.view).toMatchObject({ state: 'admitted', position: 0 });
      expect(view.view.pass).toMatch(/^qp1\./);
      controller.abort();
      await sse.cancel();

      // Reconnecting with the last id seen: no repeat of that message, just heartbeats.
      const again = await open(eventId, last.token, view.id);
      const resumed = new SseReader(again.response.body as ReadableStream<Uint8Array>);
      await resumed.next(); // retry
      expect((await resumed.next()).comment).toBe('hb');
      again.controller.abort();
      await resumed.cancel();

      // Closed streams leave no listeners behind.
      const deadline = Date.now() + 2_000;
      while (waitingRoom(ctx).feed.listenerCount > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(waitingRoom(ctx).feed.listenerCount).toBe(0);
    });

    it('ends the stream after a final sold_out or expired message', async () => {
      const eventId = await queuedEvent({ maxActiveShoppers: 1 });
      const [first, second] = await Promise.all([buildCustomer(ctx), buildCustomer(ctx)]);
      await join(eventId, first.token);
      await join(eventId, second.token);
      await duty.tickOnce();
      // The first fan's order completes: their view is expired, and the stream says so once.
      await ctx.db.query('UPDATE queue_admissions SET released_at = now() WHERE customer_id = $1',
        [first.customerId]);
      // What the next tick does for a slot freed behind the waiting room's back: forget its
      // cached pass (without admitting the next fan, whom this test keeps waiting).
      await waitingRoom(ctx).forgetReleased(eventId, Date.now() - 60_000);
      const done = await open(eventId, first.token);
      const doneFrames = await new SseReader(done.response.body as ReadableStream<Uint8Array>)
        .toEnd();
      expect(doneFrames.filter((f) => f.event === 'queue').map((f) => JSON.parse(f.data ?? '')))
        .toMatchObject([{ state: 'expired' }]);

      const { response } = await open(eventId, second.token);
      const sse = new SseReader(response.body as ReadableStream<Uint8Array>);
      expect((await sse.nextView()).view.state).toBe('waiting');
      await ctx.db.query('UPDATE tickets SET order_id = gen_random_uuid() WHERE event_id = $1',
        [eventId]);
      await duty.tickOnce();
      const rest = await sse.toEnd();
      const last = rest.filter((f) => f.event === 'queue').at(-1);
      expect(JSON.parse(last?.data ?? '{}')).toMatchObject({ state: 'sold_out' });
    });

    it('tells a fan who bought why they are out, on queue/me and the stream', async () => {
      const eventId = await queuedEvent({ maxActiveShoppers: 1 });
      const admitted = await buildCustomer(ctx);
      const waiting = await buildCustomer(ctx);
      const leaver = await buildCustomer(ctx);
      for (const fan of [admitted, waiting, leaver]) await join(eventId, fan.token);
      await duty.tickOnce();
      expect((await me(eventId, admitted.token)).state).toBe('admitted');
      // One buys with their pass's slot, one while still waiting (a waitlist offer, say).
      for (const [fan, seat] of [[admitted, 'A-1-1'], [waiting, 'A-1-2']] as const) {
        const hold = await buildHold(ctx, eventId, fan.customerId, { seats: [seat] });
        await checkout(bookingDeps(ctx), {
          customerId: fan.customerId, holdId: hold.holdId, paymentMethod: 'sim_ok',
        });
      }
      const relay = new OutboxRelay(ctx, {
        sinks: [confirmedOrdersSink(ctx)], holderId: 'test-queue-orders', pollMs: 1e9,
      });
      await relay.start();
      try {
        let published = 0;
        while (published < 2) published += (await relay.runOnce()).published;
      } finally {
        await relay.stop();
      }
      expect(await me(eventId, admitted.token))
        .toMatchObject({ state: 'expired', leftReason: 'purchased' });
      expect(await me(eventId, waiting.token))
        .toMatchObject({ state: 'left', leftReason: 'purchased' });
      for (const fan of [admitted, waiting]) {
        const { response } = await open(eventId, fan.token);
        const frames = await new SseReader(response.body as ReadableStream<Uint8Array>).toEnd();
        expect(frames.filter((f) => f.event === 'queue').map((f) => JSON.parse(f.data ?? '')))
          .toMatchObject([{ leftReason: 'purchased' }]);
      }
      const left = await app.inject({
        method: 'DELETE', url: `/api/v1/events/${eventId}/queue/me`,
        headers: bearer(leaver.token),
      });
      expect(left.json()).toMatchObject({ state: 'left', leftReason: 'left' });
      expect(await me(eventId, leaver.token)).toMatchObject({ state: 'left', leftReason: 'left' });
    });

    describe('leaving the line (DELETE …/queue/me)', () => {
    async function leave(eventId: string, token: string, payload?: string) {
      return await app.inject({
        method: 'DELETE', url: `/api/v1/events/${eventId}/queue/me`, headers: {
          ...bearer(token), ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(payload === undefined ? {} : { payload }),
      });
    }

    async function entryRow(eventId: string, customerId: string): Promise<unknown> {
      const { rows } = await ctx.db.query(
        `SELECT e.left_at, a.released_at FROM queue_entries e
           LEFT JOIN queue_admissions a USING (event_id, customer_id)
          WHERE e.event_id = $1 AND e.customer_id = $2`,
        [eventId, customerId],
      );
      return rows[0];
    }

    it('gives back a pass: the next fan is admitted on the next tick', async () => {
      const eventId = await queuedEvent({ maxActiveShoppers: 1 });
      const [a, b] = await Promise.all([buildCustomer(ctx), buildCustomer(ctx)]);
      await join(eventId, a.token);
      await join(eventId, b.token);
      await duty.tickOnce();
      expect((await me(eventId, a.token)).state).toBe('admitted');
      const left = await leave(eventId, a.token);
      expect(left.statusCode).toBe(200);
      expect(left.json()).toMatchObject({ state: 'left' });
      expect((await me(eventId, a.token)).state).toBe('left');
      await duty.tickOnce();
      expect((await me(eventId, b.token)).state).toBe('admitted');
    });

    it('moves a fan to the waitlist in one step (POST …/queue/me/waitlist)', async () => {
      const eventId = await queuedEvent({ maxActiveShoppers: 1 });
      const [a, b] = await Promise.all([buildCustomer(ctx), buildCustomer(ctx)]);
      await join(eventId, a.token);
      const url = `/api/v1/events/${eventId}/queue/me/waitlist`;
      const post = (token: string, payload: unknown) => app.inject({
        method: 'POST', url, headers: bearer(token), payload: payload as object,
      });
      const bad = await post(a.token, { quantity: 0, customerId: b.customerId });
      expect(bad.statusCode).toBe(400);
      expect((await me(eventId, a.token)).state).toBe('waiting');
      expect((await post(b.token, { quantity: 2 })).statusCode).toBe(404);
      const moved = await post(a.token, { quantity: 2 });
      expect(moved.statusCode).toBe(201);
      expect(moved.json()).toMatchObject({
        queue: { state: 'left' }, waitlist: { eventId, quantity: 2, status: 'waiting' },
      });
      const again = await post(a.token, { quantity: 2 });
      expect(again.statusCode).toBe(409);
      expect(again.json()).toMatchObject({ code: 'already_left' });
      const mine = await app.inject({ method: 'GET', url: '/api/v1/me/waitlist',
        headers: bearer(a.token) });
      expect(mine.json<{ data: unknown[] }>().data).toHaveLength(1);
    });

    it('refuses leaving twice, another customer\'s entry, or a garbage body; changes nothing',
      async () => {
        const eventId = await queuedEvent({ maxActiveShoppers: 1 });
        const [a, b, c] = await Promise.all([1, 2, 3].map(() => buildCustomer(ctx)));
        await join(eventId, a!.token);
        await join(eventId, b!.token);
        const before = await entryRow(eventId, b!.customerId);

        // A body naming someone else is not part of the contract: 400, nobody leaves.
        const other = await leave(eventId, a!.token, JSON.stringify({ customerId: b!.customerId }));
        expect(other.statusCode).toBe(400);
        expect(other.json()).toMatchObject({ code: 'validation_failed' });
        const garbage = await leave(eventId, a!.token, '{"not json');
        expect(garbage.statusCode).toBe(400);
        // Not in this line: nothing to leave, and b's entry is untouched.
        const stranger = await leave(eventId, c!.token);
        expect(stranger.statusCode).toBe(404);
        expect(await entryRow(eventId, b!.customerId)).toEqual(before);
        expect((await me(eventId, a!.token)).state).toBe('waiting');

        expect((await leave(eventId, a!.token)).statusCode).toBe(200);
        const leftRow = await entryRow(eventId, a!.customerId);
        const twice = await leave(eventId, a!.token);
        expect(twice.statusCode).toBe(409);
        expect(twice.json()).toMatchObject({ code: 'already_left' });
        expect(await entryRow(eventId, a!.customerId)).toEqual(leftRow);
        expect(await entryRow(eventId, b!.customerId)).toEqual(before);
        // b moves up: the leaver is passed over.
        await duty.tickOnce();
        expect((await me(eventId, b!.token)).state).toBe('admitted');
      });
  });

  it('answers one view and ends for an event without a queue', async () => {
      const open_ = await buildEvent(ctx);
      const fan = await buildCustomer(ctx);
      const { response } = await open(open_.eventId, fan.token);
      expect(response.status).toBe(200);
      const frames = await new SseReader(response.body as ReadableStream<Uint8Array>).toEnd();
      expect(frames.filter((f) => f.event === 'queue').map((f) => JSON.parse(f.data ?? '')))
        .toMatchObject([{ state: 'admitted' }]);
    });

    it('refuses a stream for a fan who has not joined, as problem+json', async () => {
      const eventId = await queuedEvent();
      const fan = await buildCustomer(ctx);
      const { response } = await open(eventId, fan.token);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/problem\+json/);
      expect((await loadEvent(ctx.db, eventId)).queue.enabled).toBe(true);
    });
  });
  describe(`stream limits on one node (${networked.name})`, () => {
    let small: App;
    let smallCtx: AppContext;
    let smallDb: Db;
    let smallBase: string;

    beforeAll(async () => {
      smallDb = await networked.open();
      ({ app: small, ctx: smallCtx } = await buildTestApp(smallDb, {
        env: {
          QUEUE_SSE_MAX_CONNECTIONS: '4', QUEUE_SSE_MAX_PER_CUSTOMER: '3',
          QUEUE_SSE_MAX_LIFETIME_SECONDS: '2', QUEUE_SSE_HEARTBEAT_MS: '200',
        },
      }));
      smallBase = await small.listen({ port: 0, host: '127.0.0.1' });
    });
    afterAll(async () => {
      await small?.close();
      await smallDb?.close();
    });

    /** A queued event and `count` fans in its line, on this node's database. */
    async function lineOf(count: number): Promise<{ eventId: string; tokens: string[] }> {
      const { eventId } = await buildEvent(smallCtx, {
        queue: { enabled: true, admitPerMinute: 6_000, maxActiveShoppers: 2 },
      });
      const crowd = await Promise.all(Array.from({ length: count }, () =>
        buildCustomer(smallCtx)));
      for (const fan of crowd) {
        const reply = await small.inject({
          method: 'POST', url: `/api/v1/events/${eventId}/queue`, headers: bearer(fan.token),
        });
        expect(reply.statusCode).toBe(201);
      }
      // Let this node's one-second event cache lapse: the stream handler's first await is
      // then a database read, and a burst of opens really overlaps in the handler.
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      return { eventId, tokens: crowd.map((fan) => fan.token) };
    }

    /** Opens streams all at once; returns the responses and a way to close them all. */
    async function burst(eventId: string, tokens: string[]) {
      const controller = new AbortController();
      const responses = await Promise.all(tokens.map((token) =>
        fetch(`${smallBase}/api/v1/events/${eventId}/queue/stream`, {
          headers: bearer(token), signal: controller.signal,
        })));
      const close = async (): Promise<void> => {
        controller.abort();
        await Promise.all(responses.map((r) => r.body?.cancel().catch(() => undefined)));
        // Wait for the server to see the sockets go and free the streams' slots.
        const slots = streamSlots(small, 'queue');
        const deadline = performance.now() + 10_000;
        while (slots.taken > 0) {
          if (performance.now() > deadline) throw new Error('stream slots were never freed');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      };
      return { statuses: responses.map((r) => r.status), responses, close };
    }

    it('caps streams per customer, even for a burst (429 with Retry-After)', async () => {
      const { eventId, tokens: [token] } = await lineOf(1);
      const opened = await burst(eventId, Array.from({ length: 5 }, () => token as string));
      try {
        expect(opened.statuses.filter((s) => s === 200)).toHaveLength(3);
        const refused = opened.responses.filter((r) => r.status === 429);
        expect(refused).toHaveLength(2);
        expect(Number(refused[0]?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(await refused[0]?.json()).toMatchObject({ code: 'rate_limited' });
      } finally {
        await opened.close();
      }
      // Closed streams give their slots back.
      const again = await burst(eventId, [token as string]);
      expect(again.statuses).toEqual([200]);
      await again.close();
    });

    it('caps streams per node, even for a burst (503 with Retry-After)', async () => {
      const { eventId, tokens } = await lineOf(6);
      const opened = await burst(eventId, tokens);
      try {
        expect(opened.statuses.filter((s) => s === 200)).toHaveLength(4);
        const refused = opened.responses.filter((r) => r.status === 503);
        expect(refused).toHaveLength(2);
        expect(refused[0]?.headers.get('retry-after')).toBe('5');
      } finally {
        await opened.close();
      }
    });

    it('ends a stream after its maximum lifetime', async () => {
      const { eventId, tokens: [token] } = await lineOf(1);
      const startedAt = Date.now();
      const response = await fetch(`${smallBase}/api/v1/events/${eventId}/queue/stream`, {
        headers: bearer(token as string),
      });
      const frames = await new SseReader(response.body as ReadableStream<Uint8Array>).toEnd(6_000);
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1_900);
      expect(frames.some((f) => f.event === 'queue')).toBe(true);
    });
  });
});
