/**
 * Sharding by event, checked in code. PostgreSQL can be distributed by `event_id` (Citus)
 * only if every statement on a hot path (holding, checking out, settling a payment,
 * joining the line, admitting) names one event and touches only tables keyed by event
 * (or the few global tables listed below, each with the reason it is safe). This test
 * records every statement those paths run against a real database and fails on any that
 * would need two shards' data at once. docs/SCALING.md explains the layout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { EventDetails } from '../catalog/schemas.js';
import type { AppContext } from '../context.js';
import { buildApp } from '../http/app.js';
import type { App } from '../http/types.js';
import type { SimulatedGateway } from '../payments/simulated.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { bearer, buildCustomer, buildEvent } from '../testing/factories.js';
import { installTestGateway } from '../testing/payments.js';
import type { Db, Queryable } from './index.js';

/** Tables distributed by event: every row carries `event_id`, the distribution column. */
export const eventKeyedTables = new Set([
  'events', 'zones', 'tickets', 'holds', 'hold_items', 'orders', 'payments', 'order_tickets',
  'outbox_events', 'event_feed', 'queue_numbering', 'queue_entries', 'queue_draws',
  'queue_draw_keys', 'queue_state', 'queue_admissions', 'waitlist_entries', 'waitlist_offers',
  'waitlist_counts', 'queue_counts', 'queue_join_seconds', 'notifications',
  'checkin_tokens',
]);

/**
 * Tables a hot path may touch that are not keyed by event, and why that still shards:
 * each is looked up by its own key on its own shard (or replicated everywhere), never
 * joined with event rows of another shard in one statement.
 */
export const globalTables = new Map([
  ['customers', 'distributed by customer_id; read by primary key only'],
  ['idempotency_keys', 'distributed by customer; one row per request key'],
  ['provider_events', 'webhook dedupe by provider event id; its own shard key'],
  ['refunds', 'looked up by payment id; co-locate by event_id when distributing'],
  ['simulated_gateway_charges', "the simulated provider's own books, not Stampede's"],
  ['venues', 'reference table (small, replicated to every node)'],
]);

/**
 * Known: rows of event-keyed tables addressed by their own globally unique id alone. They
 * touch one row of one event, but a sharded cluster must be told which event to route to
 * without a fan-out, so each of these statements must also name `event_id` before the
 * tables are distributed (docs/SCALING.md, "Before distributing"). The list may only
 * shrink: any other statement without `event_id` fails the test.
 */
export const rowsByGlobalId = new Set(['holds.hold_id', 'orders.order_id', 'payments.payment_id']);

/** A statement that would not route to one event's shard, and why. */
export interface ShardProblem {
  sql: string;
  why: string;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Table names a statement reads or writes (FROM, JOIN, UPDATE, INSERT INTO, DELETE FROM). */
export function tablesOf(statement: string): string[] {
  const found = new Set<string>();
  // `extract(epoch FROM x)` and `FOR UPDATE OF t` name no table.
  const sql = statement.replace(/\bextract\s*\(\s*\w+\s+from\s+/gi, 'extract(')
    .replace(/\bfor\s+(no\s+key\s+)?update(\s+of\s+[\w, ]+)?/gi, ' ');
  const pattern = /\b(?:from|join|update|into)\s+([a-z_][a-z0-9_]*)/gi;
  for (const match of sql.matchAll(pattern)) {
    const name = (match[1] as string).toLowerCase();
    // Functions and CTE names are not tables; set-returning calls are followed by "(".
    const after = sql.slice((match.index ?? 0) + match[0].length).trimStart();
    if (after.startsWith('(')) continue;
    found.add(name);
  }
  return [...found];
}

/** Checks one statement with its parameters against the sharding rules. */
export function shardProblems(sql: string, params: unknown[], eventIds: ReadonlySet<string>,
  ctes: ReadonlySet<string> = new Set()): ShardProblem[] {
  const problems: ShardProblem[] = [];
  const cte = /\b([a-z_][a-z0-9_]*)\s+as\s+(?:materialized\s+)?\(/gi;
  const withNames = new Set([...sql.matchAll(cte)].map((m) => (m[1] as string).toLowerCase()));
  const tables = tablesOf(sql).filter((t) => !withNames.has(t) && !ctes.has(t)
    && !['now', 'unnest', 'generate_series', 'jsonb_to_recordset', 'one', 'since'].includes(t));
  for (const table of tables) {
    if (!eventKeyedTables.has(table) && !globalTables.has(table)) {
      problems.push({ sql, why: `table ${table} is neither keyed by event nor listed global` });
    }
  }
  const events = new Set(params.flat().filter((p): p is string =>
    typeof p === 'string' && uuidPattern.test(p) && eventIds.has(p)));
  if (events.size > 1) problems.push({ sql, why: `names ${events.size} events` });
  if (tables.some((t) => eventKeyedTables.has(t)) && !/\bevent_id\b/i.test(sql)) {
    const key = /\bwhere\s+(?:\w+\.)?(\w+)\s*=/i.exec(sql)?.[1]?.toLowerCase() ?? '?';
    const table = tables.find((t) => eventKeyedTables.has(t)) as string;
    const rowKey = `${table}.${key}`;
    if (!rowsByGlobalId.has(rowKey)) {
      problems.push({ sql, why: 'touches an event-keyed table without naming event_id' });
    }
  }
  return problems;
}

interface Recorded {
  sql: string;
  params: unknown[];
}

/** A Db that records statements (inside transactions too) while `recording` is on. */
function recordingDb(db: Db): Db & { recording: boolean; log: Recorded[] } {
  const wrap = (q: Queryable): Queryable => ({
    query: async (sql, params) => {
      if (spy.recording) spy.log.push({ sql, params: params ?? [] });
      return await q.query(sql, params);
    },
    exec: (sql) => q.exec(sql),
  });
  const spy = {
    ...db, recording: false, log: [] as Recorded[],
    ...wrap(db),
    tx: <T>(work: (tx: Queryable) => Promise<T>, options?: Parameters<Db['tx']>[1]) =>
      db.tx((tx) => work(wrap(tx)), options),
    ping: () => db.ping(), close: () => db.close(),
  };
  return spy;
}

describe('shard-safety checker (controls)', () => {
  const events = new Set(['11111111-1111-4111-8111-111111111111',
    '22222222-2222-4222-8222-222222222222']);
  const [e1, e2] = [...events];
  it('accepts a statement on one event', () => {
    expect(shardProblems('SELECT * FROM tickets WHERE event_id = $1 AND ticket_no = $2',
      [e1, 4], events)).toEqual([]);
  });
  it('flags a statement naming two events', () => {
    expect(shardProblems('SELECT * FROM tickets WHERE event_id = ANY($1)', [[e1, e2]], events)
      .map((p) => p.why)).toEqual(['names 2 events']);
  });
  it('flags an event-keyed table reached without event_id', () => {
    expect(shardProblems('UPDATE queue_admissions SET claimed_at = now() WHERE pass_id = $1',
      ['p'], events)
      .map((p) => p.why)).toEqual(['touches an event-keyed table without naming event_id']);
  });
  it('tolerates only the listed row lookups by global id', () => {
    expect(shardProblems('UPDATE orders SET status = $2 WHERE order_id = $1', ['o', 'x'], events))
      .toEqual([]);
    expect(shardProblems('UPDATE tickets SET hold_id = $2 WHERE ticket_no = $1', [1, 'h'], events)
      .map((p) => p.why)).toEqual(['touches an event-keyed table without naming event_id']);
  });
  it('flags a table that is neither keyed by event nor listed', () => {
    expect(shardProblems('SELECT * FROM audit_log WHERE id = $1', [1], events)
      .map((p) => p.why)).toEqual(['table audit_log is neither keyed by event nor listed global']);
  });
});

const backends = (await testBackends()).filter((b) => b.available);
const backend = backends.find((b) => b.name === 'postgres') ?? backends[0];

describe.skipIf(backend === undefined)('hot paths stay on one event', () => {
  let db: ReturnType<typeof recordingDb>;
  let app: App;
  let ctx: AppContext;
  let gateway: SimulatedGateway;
  let event: EventDetails;
  let other: EventDetails;
  let queued: EventDetails;

  beforeAll(async () => {
    db = recordingDb(await backend!.open());
    ctx = buildTestContext(db);
    app = await buildApp(ctx);
    await app.ready();
    gateway = installTestGateway(app, ctx);
    event = await buildEvent(ctx);
    other = await buildEvent(ctx);
    queued = await buildEvent(ctx, {
      queue: { enabled: true, admitPerMinute: 600, maxActiveShoppers: 100, passSeconds: 300 },
    });
  });
  afterAll(async () => {
    await gateway?.close();
    await app?.close();
    await db?.close();
  });

  it('hold, checkout, webhook settlement, release and joining the line', async () => {
    const fans = [await buildCustomer(ctx), await buildCustomer(ctx), await buildCustomer(ctx)];
    // Activity on another event first, so a statement that mixes events would show it.
    const warm = await app.inject({ method: 'POST', url: `/api/v1/events/${other.eventId}/holds`,
      headers: bearer(fans[0]!.token), payload: { zone: 'seats', quantity: 2 } });
    expect(warm.statusCode, warm.body).toBe(201);

    db.recording = true;
    const hold = async (token: string) => {
      const reply = await app.inject({ method: 'POST',
        url: `/api/v1/events/${event.eventId}/holds`, headers: bearer(token),
        payload: { zone: 'seats', quantity: 2 } });
      expect(reply.statusCode, reply.body).toBe(201);
      return reply.json().holdId as string;
    };
    const pay = async (token: string, holdId: string, method: string) => {
      const reply = await app.inject({ method: 'POST', url: `/api/v1/holds/${holdId}/checkout`,
        headers: { ...bearer(token), 'idempotency-key': `shard-${holdId}` },
        payload: { paymentMethod: method } });
      expect(reply.statusCode, reply.body).toBe(201);
    };
    await pay(fans[0]!.token, await hold(fans[0]!.token), 'sim_ok');
    await pay(fans[1]!.token, await hold(fans[1]!.token), 'sim_async_ok');
    expect(await gateway.flush()).toBeGreaterThan(0);
    const released = await hold(fans[2]!.token);
    const release = await app.inject({ method: 'DELETE', url: `/api/v1/holds/${released}`,
      headers: bearer(fans[2]!.token) });
    expect(release.statusCode).toBe(204);
    const join = await app.inject({ method: 'POST', url: `/api/v1/events/${queued.eventId}/queue`,
      headers: bearer(fans[2]!.token), payload: {} });
    expect(join.statusCode, join.body).toBeLessThan(300);
    db.recording = false;

    const eventIds = new Set([event.eventId, other.eventId, queued.eventId]);
    expect(db.log.length).toBeGreaterThan(10);
    const problems = db.log.flatMap((s) => shardProblems(s.sql, s.params, eventIds));
    const unique = [...new Map(problems.map((p) => [`${p.why} ${p.sql}`, p])).values()];
    expect(unique.map((p) => `${p.why}: ${p.sql.replace(/\s+/g, ' ').slice(0, 160)}`))
      .toEqual([]);
  });
});
