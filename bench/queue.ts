/**
 * Waiting-room benchmarks: joins over HTTP beside a bare Fastify route, the numbering
 * designs that were considered (group commit on one locked row, one transaction per join,
 * Redis INCR then INSERT), the storage each waiting fan costs in Redis and PostgreSQL, and
 * SSE: how many streams one node holds and how long one tick takes to reach all of them.
 * Localhost only, bounded in count and time; Redis keys live under a random prefix and
 * are deleted afterwards.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import Fastify from 'fastify';
import { Redis } from 'ioredis';

import { loadEvent, type EventRecord } from '../src/catalog/events.js';
import type { AppContext } from '../src/context.js';
import { createRedisCoordinator } from '../src/coord/index.js';
import { AdmissionDuty } from '../src/queue/duty.js';
import { joinLine, JoinBatcher } from '../src/queue/line.js';
import { waitingRoom } from '../src/queue/room.js';
import type { Db } from '../src/storage/index.js';
import { buildTestContext } from '../src/testing/context.js';
import { buildEvent } from '../src/testing/factories.js';
import { testRedisUrl } from '../src/testing/services.js';
import {
  benchPostgres, load, loadHttp, postJson, startBenchServer, type BenchRow, type BenchSection,
  type RequestSpec,
} from './lib.js';

const prefix = `bench:queue:${randomUUID().slice(0, 8)}:`;

async function queuedEvent(ctx: AppContext): Promise<EventRecord> {
  const details = await buildEvent(ctx, {
    queue: { enabled: true, admitPerMinute: 1_000, maxActiveShoppers: 1_000 },
  });
  return await loadEvent(ctx.db, details.eventId);
}

async function bareRoute(): Promise<BenchRow> {
  const app = Fastify({ logger: false });
  app.post('/join', async () => ({ state: 'waiting', number: 1, position: 1 }));
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const specs = Array.from({ length: 60_000 }, () => postJson('/join', {}));
    const row = await loadHttp('bare Fastify POST (same shape, no work)', address, specs,
      { concurrency: 64, maxMs: 6_000, warmup: 200 });
    return { ...row, notes: 'the ceiling for any route on this machine' };
  } finally {
    await app.close();
  }
}

async function joinsOverHttp(db: Db): Promise<BenchRow[]> {
  const server = await startBenchServer(db, {
    env: {
      RATE_LIMIT_JOINS_PER_IP: '10000000', QUEUE_SSE_MAX_CONNECTIONS: '20000',
      // A few admitted fans poll many times here; each stands for many fans.
      RATE_LIMIT_QUEUE_POLLS_PER_CUSTOMER: '1000000',
    },
  });
  try {
    const event = await queuedEvent(server.ctx);
    const path = `/api/v1/events/${event.eventId}/queue`;
    const specs = Array.from({ length: 30_000 }, () => postJson(path, {}, {
      authorization: `Bearer ${server.ctx.tokens.issue(randomUUID())}`,
    }));
    const row = await loadHttp('queue join over HTTP (PostgreSQL, new fans)', server.url, specs,
      { concurrency: 64, maxMs: 10_000, warmup: 100 });
    const { rows } = await db.query<{ n: number; dense: boolean }>(
      `SELECT count(*)::int AS n, max(number) = count(*) AS dense FROM queue_entries
        WHERE event_id = $1`, [event.eventId],
    );
    // Only fans the first run actually joined (it may stop on its time limit).
    const again = specs.slice(0, Math.min(20_000, row.ops));
    const rejoin = await loadHttp('queue re-join over HTTP (answered from the cache)',
      server.url, again, { concurrency: 64, maxMs: 6_000, warmup: 100, ok: [200] });
    const polls = (fans: RequestSpec[]): RequestSpec[] =>
      Array.from({ length: 20_000 }, (_, i) => {
        const fan = fans[i % fans.length] as RequestSpec;
        return { method: 'GET', path: `${path}/me`, headers: fan.headers ?? {} };
      });
    const waiting = await loadHttp('queue/me over HTTP, waiting fans', server.url, polls(again),
      { concurrency: 64, maxMs: 6_000, warmup: 100, ok: [200] });
    const admittedFans = await admitSome(server.ctx, event, again);
    const admitted = await loadHttp('queue/me over HTTP, admitted fans (pass in the view)',
      server.url, polls(admittedFans), { concurrency: 64, maxMs: 6_000, warmup: 100, ok: [200] });
    return [
      { ...row, notes: `auth + rate limits + group-committed numbering; ${rows[0]?.n} entries, ` +
        `numbers dense: ${rows[0]?.dense}` },
      { ...rejoin, notes: 'idempotent: member cache hit, no database' },
      { ...waiting, notes: 'status from node memory, number from the member cache: no database' },
      { ...admitted, notes: `${admittedFans.length} fans admitted by one tick, polled in turn; ` +
        'pass from the admissions cache (a read per fan per 5 s at most), signed per reply' },
    ];
  } finally {
    await server.close();
  }
}

/**
 * The join's own floor on this box: a bare Fastify POST route (no plugins, no auth, no rate
 * limits, no validation, no members cache) whose handler does only what a durable join must,
 * a group-committed numbering (the same JoinBatcher and batch statement as the app, with the
 * token version compared in the batch), and answers the number. Same client, connections
 * and duration as the app's join row: the app's join can approach this, not pass it.
 */
async function joinFloor(db: Db): Promise<BenchRow> {
  const ctx = buildTestContext(db);
  const event = await queuedEvent(ctx);
  const batcher = new JoinBatcher(db, ctx.clock);
  const app = Fastify({ logger: false });
  app.post('/join', async (_request, reply) => {
    const outcome = await batcher.join(event, randomUUID(), 0);
    return reply.status(outcome.created ? 201 : 200)
      .send({ state: 'waiting', number: outcome.number });
  });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const specs = Array.from({ length: 30_000 }, () => postJson('/join', {}));
    const row = await loadHttp('queue join floor: bare POST + group-committed numbering only',
      address, specs, { concurrency: 64, maxMs: 10_000, warmup: 100 });
    return { ...row, notes: 'no auth, limits, validation or cache: what the durable join ' +
      'itself allows here; the app\'s join row reads against this' };
  } finally {
    await app.close();
  }
}

/** Runs admission ticks until some of `fans` are admitted; returns their join requests. */
async function admitSome(
  ctx: AppContext, event: EventRecord, fans: RequestSpec[],
): Promise<RequestSpec[]> {
  const duty = new AdmissionDuty(ctx);
  await duty.start();
  const admitted = new Set<string>();
  try {
    for (let round = 0; round < 50 && admitted.size === 0; round += 1) {
      const outcome = (await duty.tickOnce()).get(event.eventId);
      if (outcome?.kind === 'ticked') {
        for (const fan of outcome.admitted) admitted.add(fan.customerId);
      }
      if (admitted.size === 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await duty.stop();
  }
  return fans.filter((spec) => admitted.has(customerOf(spec)));
}

/** The customer a request's bearer token names (the bench issued it). */
function customerOf(spec: RequestSpec): string {
  const token = (spec.headers?.authorization ?? '').replace(/^Bearer /, '');
  const payload = token.split('.')[1] ?? '';
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
      sub?: unknown;
    };
    return typeof claims.sub === 'string' ? claims.sub : '';
  } catch {
    return '';
  }
}

/** The numbering designs, without HTTP, at the same concurrency. */
async function numbering(db: Db): Promise<BenchRow[]> {
  const ctx = buildTestContext(db);
  const total = 10_000;
  const concurrency = 128;
  const grouped = await queuedEvent(ctx);
  const batcher = new JoinBatcher(db, ctx.clock);
  const groupRow = await load('numbering: group commit on the locked row (chosen)',
    { concurrency, total }, async () => (await batcher.join(grouped, randomUUID())).created);

  const single = await queuedEvent(ctx);
  const singleRow = await load('numbering: one transaction per join on the locked row',
    { concurrency, total: 3_000, maxMs: 10_000 }, async () => {
      const id = randomUUID();
      return (await joinLine(db, single, [id], ctx.clock.nowMs())).get(id)?.created === true;
    });

  const coord = createRedisCoordinator({ url: testRedisUrl, prefix, name: 'bench-queue' });
  const incrEvent = await queuedEvent(ctx);
  const counter = coord.keys.event(incrEvent.eventId, 'bench:seq');
  await db.query('INSERT INTO queue_numbering (event_id) VALUES ($1)', [incrEvent.eventId]);
  let incrRow: BenchRow;
  try {
    incrRow = await load('numbering: Redis INCR, then INSERT (rejected)',
      { concurrency, total }, async () => {
        const number = await coord.incr(counter);
        await db.query(
          `INSERT INTO queue_entries (event_id, customer_id, number, pre_queue, joined_at)
           VALUES ($1, $2, $3, false, now())`, [incrEvent.eventId, randomUUID(), number],
        );
        return true;
      });
  } finally {
    await coord.close();
  }
  return [
    { ...groupRow, notes: 'dense, commit-ordered, survives a Redis flush' },
    { ...singleRow, notes: 'same guarantees, every join waits for the row lock' },
    { ...incrRow, notes: 'fast, but commits out of number order (a tick can skip a ' +
      'late commit), holes on failure, duplicates after a flush' },
  ];
}

/** Bytes per waiting fan: the Redis member cache and the PostgreSQL entry. */
async function footprint(db: Db): Promise<BenchRow[]> {
  const fans = 100_000;
  const ctx = buildTestContext(db);
  const event = await queuedEvent(ctx);
  const ids = Array.from({ length: fans }, () => randomUUID());
  const t0 = performance.now();
  for (let i = 0; i < fans; i += 500) await joinLine(db, event, ids.slice(i, i + 500), Date.now());
  const joinMs = performance.now() - t0;
  const { rows } = await db.query<{ bytes: number }>(
    `SELECT (pg_total_relation_size('queue_entries'))::bigint AS bytes`,
  );
  const pgBytes = Number(rows[0]?.bytes ?? 0);

  const admin = new Redis(testRedisUrl);
  const coord = createRedisCoordinator({ url: testRedisUrl, prefix, name: 'bench-queue-mem' });
  const used = async (): Promise<number> =>
    Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1] ?? 0);
  let redisBytes = 0;
  try {
    const before = await used();
    const key = coord.keys.event(event.eventId, 'queue:members');
    for (let i = 0; i < fans; i += 1_000) {
      const chunk = ids.slice(i, i + 1_000);
      const fields = Object.fromEntries(chunk.map((id, j) => [id, String(i + j + 1)]));
      await coord.hashSet(key, fields);
    }
    redisBytes = (await used()) - before;
    await coord.del(key);
  } finally {
    await coord.close();
    admin.disconnect();
  }
  const perSecond = (fans / joinMs) * 1000;
  return [
    { name: 'Redis memory per 100,000 waiting fans', opsPerSec: Number.NaN, p50Ms: Number.NaN,
      p99Ms: Number.NaN, ops: fans, errors: 0,
      notes: `${(redisBytes / 2 ** 20).toFixed(1)} MiB (${Math.round(redisBytes / fans)} B/fan): ` +
        'the member cache hash (customer id → number); INFO used_memory before/after' },
    { name: 'PostgreSQL per 100,000 queue entries', opsPerSec: perSecond, p50Ms: Number.NaN,
      p99Ms: Number.NaN, ops: fans, errors: 0,
      notes: `${(pgBytes / 2 ** 20).toFixed(1)} MiB with indexes (${Math.round(pgBytes / fans)} ` +
        'B/entry); ops/s is the bulk join rate in batches of 500, no HTTP' },
  ];
}

interface ChildMessage {
  type: string; count?: number; failed?: number; ms?: number; seq?: number;
  first?: number; median?: number; last?: number;
}

/** Open SSE streams on one node and the time for one tick to reach all of them. */
async function sse(db: Db, streams: number): Promise<BenchRow[]> {
  const server = await startBenchServer(db, {
    env: { QUEUE_SSE_MAX_CONNECTIONS: String(streams + 100), QUEUE_SSE_HEARTBEAT_MS: '30000' },
  });
  const script = fileURLToPath(new URL('./sse-clients.mjs', import.meta.url));
  const child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const inbox: ChildMessage[] = [];
  const waiters: ((m: ChildMessage) => void)[] = [];
  child.on('message', (m: ChildMessage) => {
    const waiter = waiters.shift();
    if (waiter) waiter(m);
    else inbox.push(m);
  });
  const receive = (): Promise<ChildMessage> => new Promise((resolve, reject) => {
    const queued = inbox.shift();
    if (queued) return resolve(queued);
    const timer = setTimeout(() => reject(new Error('SSE client process timed out')), 120_000);
    waiters.push((m) => {
      clearTimeout(timer);
      resolve(m);
    });
  });
  try {
    await receive(); // ready
    const { ctx } = server;
    const event = await queuedEvent(ctx);
    const ids = Array.from({ length: streams }, () => randomUUID());
    for (let i = 0; i < streams; i += 500) {
      await joinLine(db, event, ids.slice(i, i + 500), ctx.clock.nowMs());
    }
    const tokens = ids.map((id) => ctx.tokens.issue(id));
    global.gc?.();
    const heapBefore = process.memoryUsage().rss;
    const path = `/api/v1/events/${event.eventId}/queue/stream`;
    child.send({ type: 'open', url: server.url, path, tokens, concurrency: 200 });
    const opened = await receive();
    const rssPerStream = (process.memoryUsage().rss - heapBefore) / Math.max(1, opened.count ?? 1);
    const room = waitingRoom(ctx);
    const base = await room.status(event);
    const pushes: number[] = [];
    for (let i = 1; i <= 5; i += 1) {
      const seq = base.seq + i;
      child.send({ type: 'expect', seq });
      await receive(); // expecting
      const sentAt = performance.timeOrigin + performance.now();
      await room.publish({ ...base, seq, servedUpTo: base.servedUpTo + i, atMs: Date.now() });
      const arrived = await receive();
      pushes.push((arrived.last ?? sentAt) - sentAt);
    }
    pushes.sort((a, b) => a - b);
    child.send({ type: 'close' });
    await receive();
    return [
      { name: `open SSE streams on one node (${streams.toLocaleString('en-US')})`,
        opsPerSec: ((opened.count ?? 0) / (opened.ms ?? 1)) * 1000, p50Ms: Number.NaN,
        p99Ms: Number.NaN, ops: opened.count ?? 0, errors: opened.failed ?? 0,
        notes: `ops/s = streams opened per second (join lookup, auth, subscribe); about ` +
          `${(rssPerStream / 1024).toFixed(1)} KiB of server RSS per stream` },
      { name: `one tick pushed to all ${streams.toLocaleString('en-US')} streams`,
        opsPerSec: 1000 / (pushes[2] ?? Number.NaN), p50Ms: pushes[2] ?? Number.NaN,
        p99Ms: pushes[4] ?? Number.NaN, ops: pushes.length, errors: 0,
        notes: 'publish → last client holds the frame (client in its own process); ' +
          'each stream computes its own position, no database reads' },
    ];
  } finally {
    child.kill();
    await server.close();
  }
}

/** Runs the waiting-room benchmarks. */
export async function run(): Promise<BenchSection> {
  const rows: BenchRow[] = [await bareRoute()];
  const db = await benchPostgres(20);
  try {
    rows.push(...await joinsOverHttp(db));
    rows.splice(2, 0, await joinFloor(db));
    rows.push(...await numbering(db));
    rows.push(...await sse(db, 10_000));
  } finally {
    await db.close();
  }
  const fresh = await benchPostgres(4);
  try {
    rows.push(...await footprint(fresh));
  } finally {
    await fresh.close();
  }
  return {
    title: 'Waiting room',
    description: 'Joining the queue over HTTP next to a bare route, polling it (`queue/me`) ' +
      'as a waiting and as an admitted fan, the numbering designs considered, what a ' +
      'waiting fan costs in Redis and PostgreSQL, and live position updates over SSE.',
    rows,
  };
}
