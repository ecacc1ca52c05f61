/**
 * What the admission tick and the organizer's dashboard read, by plan: each statement they
 * send is EXPLAINed, and the scans of the tables that grow with a sale are counted. A big
 * crowd turns every extra walk of the tickets or of the line into CPU that PostgreSQL spends
 * once per tick or per dashboard refresh (docs/benchmarks-journal.md, "Inside the crowd"),
 * so these counts are the contract; timings are left to the benchmarks.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadEvent, type EventRecord } from '../catalog/events.js';
import type { AppContext } from '../context.js';
import { ManualClock } from '../core/clock.js';
import { createHold } from '../holds/holds.js';
import { onSaleStats } from '../stats/onsale.js';
import type { Db, Queryable, QueryResult } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { buildEvent, buildVenue, insertCustomerRows } from '../testing/factories.js';
import { claimAdmission, tickLine } from './admission.js';
import { leaveLine } from './leave.js';
import { joinLine } from './line.js';

const backends = await testBackends();

interface Sent {
  sql: string;
  params: unknown[];
}

/** `db` with every statement it (or a transaction of it) runs recorded. */
function recording(db: Db): { db: Db; sent: Sent[] } {
  const sent: Sent[] = [];
  const wrap = (target: Queryable): Queryable => ({
    query<T>(sql: string, params: unknown[] = []): Promise<QueryResult<T>> {
      sent.push({ sql, params });
      return target.query<T>(sql, params);
    },
    exec: (sql: string) => target.exec(sql),
  });
  const wrapped: Db = {
    ...wrap(db),
    kind: db.kind,
    tx: (work, options) => db.tx((tx) => work(wrap(tx)), options),
    ping: () => db.ping(),
    close: () => db.close(),
  };
  return { db: wrapped, sent };
}

interface PlanNode {
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

/** The index a scan node reads through, if any (a bitmap heap scan's is its child's). */
function indexOf(node: PlanNode): string | undefined {
  return node['Index Name'] ?? node.Plans?.find((child) => child['Index Name'])?.['Index Name'];
}

/**
 * Scan nodes over `table` in the plans of the statements sent (subplans included), but for
 * those through the index `except`. With `preferIndexes`, plans are made with seq scans
 * disabled, so a test's handful of rows is read the way a crowd's would be.
 */
async function scansOf(
  db: Db, sent: readonly Sent[], table: string,
  options: { except?: string; preferIndexes?: boolean } = {},
): Promise<number> {
  let scans = 0;
  const walk = (node: PlanNode): void => {
    const through = options.except !== undefined && indexOf(node) === options.except;
    if (node['Relation Name'] === table && !through) scans += 1;
    for (const child of node.Plans ?? []) walk(child);
  };
  await db.tx(async (tx) => {
    if (options.preferIndexes === true) await tx.query('SET LOCAL enable_seqscan = off');
    for (const { sql, params } of sent) {
      if (!/^\s*(SELECT|WITH|UPDATE|INSERT|DELETE)/i.test(sql)) continue;
      const { rows } = await tx.query<{ 'QUERY PLAN': unknown }>(
        `EXPLAIN (FORMAT JSON) ${sql}`, params,
      );
      const raw = rows[0]?.['QUERY PLAN'];
      const plans = (typeof raw === 'string' ? JSON.parse(raw) : raw) as { Plan: PlanNode }[];
      for (const plan of plans) walk(plan.Plan);
    }
  });
  return scans;
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`what the crowd's reads walk on ${backend.name}`, () => {
    let db: Db;
    let clock: ManualClock;
    let ctx: AppContext;

    beforeAll(async () => {
      db = await backend.open();
      clock = new ManualClock(Date.UTC(2030, 0, 1, 10));
      ctx = buildTestContext(db, { clock });
    });
    afterAll(async () => db?.close());

    /** A queued event mid-sale: a line, some fans admitted, holding, one who left. */
    async function midSale(): Promise<EventRecord> {
      const details = await buildEvent(ctx, {
        venue: await buildVenue(ctx, { rows: 4, seatsPerRow: 10, standing: 50 }),
        onSaleAt: new Date(Math.min(clock.nowMs(), Date.now()) - 60_000).toISOString(),
        maxTicketsPerCustomer: 4,
        queue: { enabled: true, admitPerMinute: 60_000, maxActiveShoppers: 5 },
      });
      const event = await loadEvent(db, details.eventId);
      const fans = await insertCustomerRows(db, 12);
      for (const fan of fans) await joinLine(db, event, [fan], clock.nowMs());
      clock.advance(1_000);
      const first = await tickLine(db, event, {
        nowMs: clock.nowMs(), token: 1, claimGraceSeconds: 60,
      });
      expect(first.kind).toBe('ticked');
      const admitted = first.kind === 'ticked' ? first.admitted : [];
      for (const { customerId } of admitted.slice(0, 3)) {
        await claimAdmission(db, event.eventId, customerId, clock.nowMs());
        await createHold(db, event, customerId, { zone: 'floor', quantity: 2 });
      }
      await leaveLine(db, event.eventId, fans[11] as string, 'left', clock.nowMs());
      return event;
    }

    it('a tick\'s full recount walks the event\'s tickets once; the shape reads by index',
      async () => {
        const event = await midSale();
        const { db: counted, sent } = recording(db);
        clock.advance(1_000);
        const outcome = await tickLine(counted, event, {
          nowMs: clock.nowMs(), token: 1, claimGraceSeconds: 60,
        });
        expect(outcome.kind).toBe('ticked');
        // Few tickets left, so the tick reads the shape of what is left too (supply.ts).
        expect(outcome.kind === 'ticked' && outcome.status.supply?.shape).toBeTruthy();
        // The tick's statements are its two functions (migration 045); the first runs the
        // figures and the shape, SQL functions inlined where they are called, so their
        // plans are read with this tick's arguments.
        expect(sent.map(({ sql }) => /FROM queue_tick_(begin|apply)\(/.exec(sql)?.[1]))
          .toEqual(['begin', 'apply']);
        expect(await scansOf(db, sent, 'tickets')).toBe(0);
        const inside: Sent[] = [
          { sql: 'SELECT * FROM queue_tick_figures($1::uuid, $2::timestamptz, $3::float8)',
            params: [event.eventId, new Date(clock.nowMs()), 20] },
          { sql: 'SELECT * FROM queue_shape($1::uuid)', params: [event.eventId] },
        ];
        // The figures were three walks (held, sold, kept); now one walk of the unsold
        // tickets. The shape reads them through tickets_unsold_idx (migration 076).
        expect(await scansOf(db, inside, 'tickets')).toBe(1);
      });

    it('the dashboard never walks the line: counts and recent joins are kept as rows are written',
      async () => {
        const event = await midSale();
        const { db: counted, sent } = recording(db);
        const stats = await onSaleStats(counted, ctx.coord, clock, event.eventId);
        expect(stats.queue).toMatchObject({ joined: 12, left: 1, admitted: 5 });
        expect(stats.queue.waiting).toBe(12 - 5 - 1);
        // The counts and the joins per second are kept by triggers (migration 046,
        // queue/counts.ts); the fans who left lately are read through
        // queue_entries_left_idx (migration 040).
        expect(await scansOf(db, sent, 'queue_entries', {
          except: 'queue_entries_left_idx', preferIndexes: true,
        })).toBe(0);
        expect(await scansOf(db, sent, 'queue_entries', { preferIndexes: true })).toBe(1);
        // Admissions: the live slots through the open index, the recent ones (series)
        // through the admitted_at index, and the series' leavers by key.
        expect(await scansOf(db, sent, 'queue_admissions', {
          except: 'queue_admissions_open_idx', preferIndexes: true,
        })).toBe(2);
      });
  });
}
