/**
 * The outbox relay on PGlite and PostgreSQL: versions in commit order (a row that took a
 * lower id but committed later is not lost), fencing of a deposed leader, at-least-once
 * delivery through a failing sink, a bounded table, and seat-map versions that line up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { AppContext } from '../context.js';
import { getSeatMap } from '../inventory/seatmap.js';
import { releaseHold } from '../holds/holds.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestContext } from '../testing/context.js';
import { buildCustomers, buildEvent, buildHold } from '../testing/factories.js';
import {
  markPublished, OutboxRelay, prunePublished, pruneSql, stampOutbox, unpublishedRows,
  type OutboxRow,
} from './relay.js';
import { writeOutbox } from './write.js';

const backends = await testBackends();

async function versionsOf(db: Db, eventId: string): Promise<Map<number, number>> {
  const { rows } = await db.query<{ outbox_id: string; version: string | null }>(
    'SELECT outbox_id, version FROM outbox_events WHERE event_id = $1', [eventId]);
  return new Map(rows.map((r) => [Number(r.outbox_id), Number(r.version)]));
}

/** A relay that leads at once (in-process coordination) with a recording sink. */
async function startRelay(ctx: AppContext, seen: OutboxRow[], fail?: () => boolean) {
  const relay = new OutboxRelay(ctx, {
    holderId: 'test-relay', pollMs: 1_000_000,
    sinks: [async (rows) => {
      if (fail?.() === true) throw new Error('sink down');
      seen.push(...rows);
    }],
  });
  await relay.start();
  expect(relay.elector.isLeader()).toBe(true);
  return relay;
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`outbox relay on ${backend.name}`, () => {
    let db: Db;
    let ctx: AppContext;

    beforeAll(async () => {
      db = await backend.open();
      // A long lease: a busy machine must not make the test's relay lose leadership.
      ctx = buildTestContext(db, { env: { OUTBOX_LEADER_TTL_MS: '60000' } });
    });
    afterAll(async () => {
      await db?.close();
    });

    it('prunes by key whatever the statistics (control: the IN form scans the table)', async () => {
      // Statistics that say every row is past its retention: the IN form's cheapest plan is
      // then a hash join over the whole table, as on a minute-old analysis during a sale.
      await db.query(
        `INSERT INTO outbox_events (event_id, kind, payload, version, published_at)
         SELECT gen_random_uuid(), 'seats.held', '{}'::jsonb, g, now() - interval '1 hour'
           FROM generate_series(1, 5000) g`);
      await db.query('ANALYZE outbox_events');
      const plan = async (sql: string): Promise<string> => {
        const { rows } = await db.query<{ 'QUERY PLAN': string }>(
          `EXPLAIN ${sql.replace('$1', '30').replace('$2', '20000')}`);
        return rows.map((row) => row['QUERY PLAN']).join('\n');
      };
      const inForm = pruneSql.replace('= ANY (ARRAY(', 'IN (').replace('$2))', '$2)');
      // The deleted table read whole (not the subquery's own read, aliased outbox_events_1).
      const outerScan = /Seq Scan on outbox_events +\(/;
      expect(await plan(inForm)).toMatch(outerScan);
      const keyed = await plan(pruneSql);
      expect(keyed).toMatch(/outbox_events_pkey/);
      expect(keyed).not.toMatch(outerScan);
      expect(await prunePublished(db)).toBe(5000);
    });

    it('numbers each event\'s rows 1, 2, 3... and the seat map reads the same number', async () => {
      const event = await buildEvent(ctx);
      const [fan] = await buildCustomers(ctx, 1);
      const seen: OutboxRow[] = [];
      const relay = await startRelay(ctx, seen);
      try {
        const hold = await buildHold(ctx, event.eventId, fan!.customerId, { seats: ['A-1-1'] });
        await buildHold(ctx, event.eventId, fan!.customerId, { zone: 'floor', quantity: 2 });
        expect((await getSeatMap(db, event.eventId)).version).toBe(0);
        await relay.runOnce();
        expect(seen.map((r) => r.version)).toEqual([1, 2]);
        const map = await getSeatMap(db, event.eventId);
        expect(map.version).toBe(2);
        expect(map.sections[0]?.rows[0]?.seats[0]?.status).toBe('held');
        await releaseHold(db, fan!.customerId, hold.holdId);
        await relay.runOnce();
        expect(seen.map((r) => [r.version, r.kind])).toEqual(
          [[1, 'seats.held'], [2, 'seats.held'], [3, 'seats.released']]);
        // Published rows are marked; nothing is left for the next round.
        expect(await unpublishedRows(db)).toEqual([]);
      } finally {
        await relay.stop();
      }
    });

    it('a deposed leader cannot stamp once a newer token has', async () => {
      const event = await buildEvent(ctx);
      const [fan] = await buildCustomers(ctx, 1);
      await buildHold(ctx, event.eventId, fan!.customerId, { seats: ['A-2-1'] });
      const current = await db.query<{ leader_token: string }>(
        'SELECT leader_token FROM outbox_relay_state');
      const newer = Number(current.rows[0]?.leader_token) + 1;
      expect(await stampOutbox(db, newer)).toMatchObject({ kind: 'stamped' });
      await buildHold(ctx, event.eventId, fan!.customerId, { seats: ['A-2-2'] });
      // Control: the same call with the newer token stamps; the older one is refused.
      expect(await stampOutbox(db, newer - 1)).toEqual({ kind: 'fenced', newerToken: newer });
      const unstamped = [...(await versionsOf(db, event.eventId)).values()].filter((v) => v === 0);
      expect(unstamped).toHaveLength(1);
      expect(await stampOutbox(db, newer)).toEqual({ kind: 'stamped', rows: 1 });
    });

    it('a failing sink gets the same rows again, with the same versions', async () => {
      const event = await buildEvent(ctx);
      const [fan] = await buildCustomers(ctx, 1);
      const seen: OutboxRow[] = [];
      let failing = true;
      const relay = await startRelay(ctx, seen, () => failing);
      try {
        await buildHold(ctx, event.eventId, fan!.customerId, { seats: ['A-3-1'] });
        await expect(relay.runOnce()).rejects.toThrow('sink down');
        expect(seen).toEqual([]);
        const stamped = (await unpublishedRows(db)).filter((r) => r.eventId === event.eventId);
        expect(stamped.map((r) => r.version)).toEqual([1]);
        failing = false;
        await relay.runOnce();
        const mine = seen.filter((r) => r.eventId === event.eventId);
        expect(mine.map((r) => [r.kind, r.version])).toEqual([['seats.held', 1]]);
      } finally {
        await relay.stop();
      }
    });

    it('published rows are pruned: the table stays bounded through many holds', async () => {
      const event = await buildEvent(ctx, {}); // 50 seats + 100 standing
      const fans = await buildCustomers(ctx, 40);
      const seen: OutboxRow[] = [];
      const relay = await startRelay(ctx, seen);
      try {
        for (let round = 0; round < 3; round++) {
          for (const fan of fans) {
            const hold = await buildHold(ctx, event.eventId, fan.customerId,
              { zone: 'floor', quantity: 2 });
            await releaseHold(db, fan.customerId, hold.holdId);
          }
          expect(await relay.runOnce()).toMatchObject({ stamped: 80, published: 80 });
          await prunePublished(db, 0);
          const { rows } = await db.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM outbox_events');
          // Everything published is gone; versions keep counting.
          expect(rows[0]?.n).toBe(0);
        }
        expect(seen.filter((r) => r.eventId === event.eventId)).toHaveLength(240);
        expect((await getSeatMap(db, event.eventId)).version).toBe(240);
      } finally {
        await relay.stop();
      }
    });

    it.skipIf(backend.name !== 'postgres')(
      'a row that took a lower id but commits later is not lost', async () => {
        const event = await buildEvent(ctx);
        const seen: OutboxRow[] = [];
        const relay = await startRelay(ctx, seen);
        let letGo: () => void = () => undefined;
        try {
          const gate = new Promise<void>((resolve) => { letGo = resolve; });
          let lateId = 0;
          let taken!: () => void;
          const tookId = new Promise<void>((resolve) => { taken = resolve; });
          const late = db.tx(async (tx) => {
            await writeOutbox(tx, event.eventId, 'seats.held', { zones: [], tickets: [] });
            const { rows } = await tx.query<{ id: string }>(
              'SELECT max(outbox_id) AS id FROM outbox_events');
            lateId = Number(rows[0]?.id);
            taken();
            await gate;
          });
          await tookId;
          await db.tx((tx) => writeOutbox(tx, event.eventId, 'seats.released',
            { zones: [], tickets: [] }));
          await relay.runOnce();
          const early = seen.filter((r) => r.eventId === event.eventId);
          expect(early.map((r) => r.kind)).toEqual(['seats.released']);
          // The race is real: the row published first has the higher id, so a reader
          // resuming "after the last id seen" would never look at the late one again.
          expect(early[0]!.outboxId).toBeGreaterThan(lateId);
          letGo();
          await late;
          await relay.runOnce();
          const all = seen.filter((r) => r.eventId === event.eventId);
          expect(all.map((r) => [r.outboxId, r.version])).toEqual(
            [[early[0]!.outboxId, 1], [lateId, 2]]);
        } finally {
          letGo();
          await relay.stop();
        }
      });

    it('rows of several events are stamped per event and marked together', async () => {
      const [one, two] = [await buildEvent(ctx), await buildEvent(ctx)];
      for (const event of [one, two, one]) {
        await db.tx((tx) => writeOutbox(tx, event!.eventId, 'seats.held', { zones: [], tickets: [] }));
      }
      const token = Number((await db.query<{ t: string }>(
        'SELECT leader_token AS t FROM outbox_relay_state')).rows[0]?.t);
      await stampOutbox(db, token);
      const rows = (await unpublishedRows(db)).filter((r) =>
        r.eventId === one!.eventId || r.eventId === two!.eventId);
      const byEvent = (id: string) => rows.filter((r) => r.eventId === id).map((r) => r.version);
      expect(byEvent(one!.eventId)).toEqual([1, 2]);
      expect(byEvent(two!.eventId)).toEqual([1]);
      await markPublished(db, rows);
      expect((await unpublishedRows(db)).filter((r) => r.eventId === one!.eventId)).toEqual([]);
    });
  });
}
