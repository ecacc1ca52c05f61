/**
 * The admission tick and a leave read what they decide on, not the sale, on a connection
 * whose plans were made while the sale was empty (PL/pgSQL keeps a connection's plans, and
 * the tick's functions run with force_generic_plan), once the sale has grown; and on
 * statistics that still describe the empty tables. Each check has a control: the statement
 * as it was before (migration 048's queue_tick_begin, 053's queue_tick_apply, the leave's
 * update with the bare liveSlot rule), on the same connection at the same scale, reads the
 * sale. PostgreSQL only: PGlite has one connection, no auto_explain and no access counters.
 *
 * - queue_tick_begin's slot release (066): the rows its set scans return, from the plans
 *   auto_explain sends back (ANALYZE, nested statements). Hashed, each set is read about
 *   once; in 048's nested loops, once per live admission. And the admissions read to free
 *   200 idle slots: by row id now; 048 walked the event's admissions once per slot.
 * - queue_tick_apply and the admissions' count trigger (067): entries fetched from
 *   queue_entries (pg_stat_xact_user_tables) when a tick admits 4 fans of a 2,000-fan line.
 * - a leave (keyedLiveSlot): admissions fetched to free one fan's slot among 2,000 live.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

import type { EventRecord } from '../catalog/events.js';
import type { Db, Queryable, QueryResult } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildQueuedEvent, insertCustomerRows } from '../testing/factories.js';
import { testDatabaseUrl } from '../testing/services.js';
import { describePostgres } from '../testing/suites.js';
import { leaveLine } from './leave.js';
import { joinLine } from './line.js';
import { liveSlot } from './slot.js';

const backends = await testBackends();

interface PlanNode {
  'Node Type': string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}

/** Rows all CTE Scan nodes of a plan returned, over all their loops. */
function cteRows(node: PlanNode): number {
  const own = node['Node Type'] === 'CTE Scan'
    ? (node['Actual Rows'] ?? 0) * (node['Actual Loops'] ?? 1) : 0;
  return own + (node.Plans ?? []).reduce((sum, child) => sum + cteRows(child), 0);
}

/** A migration's definition of a function, renamed, for a control. */
function oldFunction(file: string, name: string, as: string): string {
  const text = readFileSync(new URL(`../storage/migrations/${file}`, import.meta.url), 'utf8');
  const start = text.indexOf(`CREATE OR REPLACE FUNCTION ${name}(`);
  expect(start).toBeGreaterThanOrEqual(0);
  const end = text.indexOf('$$;', text.indexOf('AS $$', start)) + 3;
  return text.slice(start, end).replace(`FUNCTION ${name}(`, `FUNCTION ${as}(`);
}

/** Statements on one session, inside the transaction the caller opened (no BEGIN here). */
function sessionDb(client: pg.Client): Db {
  const q: Queryable = {
    async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
      const result = await client.query(sql, params);
      return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
    },
    async exec(sql: string): Promise<void> { await client.query(sql); },
  };
  return { kind: 'postgres', ...q, tx: async (work) => await work(q),
    ping: async () => undefined, close: async () => undefined };
}

describePostgres(backends, 'tick and leave plans made on an empty sale (PostgreSQL)',
  { poolMax: 2 }, (suite) => {
    let client: pg.Client;
    const notices: string[] = [];

    // A session of its own on the suite's database, closed before the database is dropped.
    beforeAll(async () => {
      const { rows: [named] } = await suite.db.query<{ d: string }>(
        'SELECT current_database() AS d');
      const url = new URL(testDatabaseUrl);
      url.pathname = `/${(named as { d: string }).d}`;
      client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      client.on('notice', (msg) => { notices.push(msg.message ?? ''); });
    });
    afterAll(async () => {
      await client.end();
    });

    async function queuedEvent(): Promise<EventRecord> {
      const event = await buildQueuedEvent(suite.ctx,
        { admitPerMinute: 600, maxActiveShoppers: 100_000 });
      await joinLine(suite.db, event, [randomUUID()], undefined);
      return event;
    }

    /** `count` fans at the end of the line, numbered on from its last. */
    async function lineUp(eventId: string, customers: readonly string[]): Promise<void> {
      await client.query(
        `INSERT INTO queue_entries (event_id, customer_id, number, pre_queue, joined_at)
         SELECT $1, c, (SELECT coalesce(max(number), 0) FROM queue_entries
                         WHERE event_id = $1) + n, false, now()
           FROM unnest($2::uuid[]) WITH ORDINALITY AS x(c, n)`, [eventId, customers]);
    }

    /** Live, claimed admissions for `customers` (numbers from `from`). */
    async function admit(eventId: string, customers: readonly string[], from: number):
    Promise<void> {
      await client.query(
        `INSERT INTO queue_admissions (event_id, customer_id, number, pass_id, admitted_at,
                                       claim_by, expires_at, claimed_at, leader_token)
         SELECT $1, c, $3 + n, gen_random_uuid(), now() - interval '1 minute',
                now() + interval '1 hour', now() + interval '1 hour', now(), 1
           FROM unnest($2::uuid[]) WITH ORDINALITY AS x(c, n)`, [eventId, customers, from]);
    }

    /** Entries read from a table by this transaction so far. */
    async function fetched(table: string): Promise<number> {
      const { rows } = await client.query<{ n: string }>(
        `SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS n
           FROM pg_stat_xact_user_tables WHERE relname = $1`, [table]);
      return Number(rows[0]?.n ?? 0);
    }

    it('the slot release matches the live admissions against its sets once each ' +
      '(control: migration 048)', async () => {
      const event = await queuedEvent();
      const begin = async (fn: string): Promise<string> => {
        const { rows } = await client.query<{ outcome: string }>(
          `SELECT outcome FROM ${fn}($1::uuid, 1, NULL, false, $2::timestamptz, 30, 600, 30,
             100, 600, 100000, 100, 0, 1000)`, [event.eventId, new Date(event.onSaleAtMs)]);
        return rows[0]?.outcome ?? 'none';
      };
      await client.query('BEGIN');
      try {
      await client.query(oldFunction('048_queue_tick_slot_release.sql', 'queue_tick_begin',
        'queue_tick_begin_048'));
      // Both plan on this connection while the sale is empty.
      for (let i = 0; i < 6; i += 1) {
        expect(await begin('queue_tick_begin')).toBe('ready');
        expect(await begin('queue_tick_begin_048')).toBe('ready');
      }
      // 600 live, claimed admissions: 300 hold now, 150 bought (before their admission,
      // so no slot is freed for it), 150 held and let the hold lapse; all within the idle
      // window, so nothing is freed and both calls read the same sets.
      const fans = await insertCustomerRows(suite.db, 600);
      await lineUp(event.eventId, fans);
      await admit(event.eventId, fans, 1_000);
      const hold = (state: string, lapsed: boolean): string =>
        `INSERT INTO holds (hold_id, event_id, customer_id, state, quantity, adjacent,
                            currency, total_cents, expires_at, claim_expires_at, ended_at)
         SELECT gen_random_uuid(), $1, c, '${state}', 2, true, 'EUR', 0,
                now() + interval '${lapsed ? '-1 minute' : '1 hour'}',
                now() + interval '${lapsed ? '-1 minute' : '1 hour'}',
                ${state === 'held' ? 'NULL' : 'now()'}
           FROM unnest($2::uuid[]) AS c`;
      await client.query(hold('held', false), [event.eventId, fans.slice(0, 300)]);
      await client.query(hold('held', true), [event.eventId, fans.slice(450)]);
      await client.query(
        `WITH h AS (
           INSERT INTO holds (hold_id, event_id, customer_id, state, quantity, adjacent,
                              currency, total_cents, expires_at, claim_expires_at, ended_at,
                              created_at)
           SELECT gen_random_uuid(), $1, c, 'purchased', 2, true, 'EUR', 0,
                  now() - interval '2 minutes', now() - interval '2 minutes',
                  now() - interval '2 minutes', now() - interval '3 minutes'
             FROM unnest($2::uuid[]) AS c
           RETURNING hold_id, customer_id)
         INSERT INTO orders (order_id, event_id, customer_id, hold_id, status, quantity,
                             total_cents, currency, confirmed_at)
         SELECT gen_random_uuid(), $1, h.customer_id, h.hold_id, 'confirmed', 2, 0, 'EUR',
                now() - interval '2 minutes'
           FROM h`, [event.eventId, fans.slice(300, 450)]);

      await client.query(`LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0;
        SET auto_explain.log_analyze = on; SET auto_explain.log_timing = off;
        SET auto_explain.log_format = json; SET auto_explain.log_nested_statements = on;
        SET auto_explain.log_level = notice; SET client_min_messages = notice`);
      const release = async (fn: string): Promise<number> => {
        notices.length = 0;
        expect(await begin(fn)).toBe('ready');
        const plan = notices.map((notice) => JSON.parse(notice.slice(notice.indexOf('{'))) as
          { 'Query Text': string; Plan: PlanNode })
          .find((p) => p['Query Text'].includes('ordered AS MATERIALIZED'));
        expect(plan).toBeDefined();
        return cteRows((plan as { Plan: PlanNode }).Plan);
      };
      const now = await release('queue_tick_begin');
      const as048 = await release('queue_tick_begin_048');
      await client.query('SET auto_explain.log_min_duration = -1');
      // Hashed: about the sets' sizes (150 + 300 + 300 + 450 rows, a set read twice at
      // most). Joined: once per live admission, 600 × that.
      expect(now).toBeLessThan(3_000);
      expect(as048).toBeGreaterThan(100_000);

      // 200 fans idle since their claim ten minutes ago, then 200 more: each function frees
      // one group. The slots are freed by row id; 048 joined them back by a walk of the
      // event's admissions per slot.
      const idle = async (from: number): Promise<void> => {
        await client.query(
          `INSERT INTO queue_admissions (event_id, customer_id, number, pass_id, admitted_at,
                                         claim_by, expires_at, claimed_at, leader_token)
           SELECT $1, gen_random_uuid(), $2 + n, gen_random_uuid(),
                  now() - interval '10 minutes', now() + interval '1 hour',
                  now() + interval '1 hour', now() - interval '10 minutes', 1
             FROM generate_series(1, 200) AS n`, [event.eventId, from]);
      };
      const frees = async (fn: string): Promise<number> => {
        const before = await fetched('queue_admissions');
        const { rows } = await client.query<{ released: number }>(
          `SELECT released FROM ${fn}($1::uuid, 1, NULL, false, $2::timestamptz, 30, 600, 30,
             100, 600, 100000, 100, 0, 1000)`, [event.eventId, new Date(event.onSaleAtMs)]);
        expect(rows[0]?.released).toBe(200);
        return (await fetched('queue_admissions')) - before;
      };
      await idle(5_000);
      const freedNow = await frees('queue_tick_begin');
      await idle(6_000);
      const freed048 = await frees('queue_tick_begin_048');
      // Now: the live admissions once for the selection (~1,000 of them over the
      // function's reads) and the 200 slots. 048: 200 × the event's 1,000 admissions.
      expect(freedNow).toBeLessThan(10_000);
      expect(freed048).toBeGreaterThan(100_000);
      } finally {
        await client.query('ROLLBACK');
      }
    });

    it('a tick admits its fans by their entries, not by the line (control: migration 053)',
      async () => {
        const event = await queuedEvent();
        await client.query(oldFunction('053_queue_tick_apply_leavers.sql', 'queue_tick_apply',
          'queue_tick_apply_053'));
        let number = 100;
        const apply = async (fn: string, fans: readonly string[]): Promise<void> => {
          const { rows: [state] } = await client.query<{ s: string }>(
            'SELECT tick_seq AS s FROM queue_state WHERE event_id = $1', [event.eventId]);
          const numbers = fans.map(() => (number += 1));
          const { rows } = await client.query<{ outcome: string }>(
            `SELECT outcome FROM ${fn}($1::uuid, 1, $2::bigint, $3::uuid[], $4::bigint[], now(),
               now() + interval '1 hour', now() + interval '1 hour', 0, 0, now(), 600, false,
               '{}'::jsonb, '{}'::jsonb)`,
            [event.eventId, (state as { s: string }).s, fans, numbers]);
          expect(rows[0]?.outcome).toBe('ticked');
        };
        const fans = Array.from({ length: 2_012 }, () => randomUUID());
        await client.query('BEGIN');
        try {
          // Both plan on this connection while the line holds a dozen fans.
          await lineUp(event.eventId, fans.slice(0, 12));
          for (let i = 0; i < 6; i += 1) {
            await apply('queue_tick_apply', [fans[2 * i] as string]);
            await apply('queue_tick_apply_053', [fans[2 * i + 1] as string]);
          }
          await lineUp(event.eventId, fans.slice(12));
          const reads = async (fn: string, admitted: readonly string[]): Promise<number> => {
            const before = await fetched('queue_entries');
            await apply(fn, admitted);
            return (await fetched('queue_entries')) - before;
          };
          const now = await reads('queue_tick_apply', fans.slice(100, 104));
          const as053 = await reads('queue_tick_apply_053', fans.slice(104, 108));
          // Now: each fan's entry by key, in the apply (lock, left_at) and in the count
          // trigger (lock, left_at). The control's own two statements read the line.
          expect(now).toBeLessThanOrEqual(4 * 4);
          expect(as053).toBeGreaterThanOrEqual(2 * 2_000);
        } finally {
          await client.query('ROLLBACK');
        }
      });

    it('a leave frees its own slot by key, not by the open admissions (control: liveSlot)',
      async () => {
        const event = await queuedEvent();
        const fans = await insertCustomerRows(suite.db, 2_012);
        await client.query('BEGIN');
        try {
          const session = sessionDb(client);
          // The count trigger plans on this connection while the line holds a dozen fans.
          await lineUp(event.eventId, fans.slice(0, 12));
          await admit(event.eventId, fans.slice(0, 12), 1_000);
          for (let i = 0; i < 6; i += 1) {
            await leaveLine(session, event.eventId, fans[i] as string, 'left');
          }
          await lineUp(event.eventId, fans.slice(12));
          await admit(event.eventId, fans.slice(12), 2_000);
          const reads = async (leave: () => Promise<unknown>): Promise<number> => {
            const before = await fetched('queue_admissions');
            await leave();
            return (await fetched('queue_admissions')) - before;
          };
          const now = await reads(async () => {
            const { slotFreed } = await leaveLine(session, event.eventId, fans[100] as string,
              'left');
            expect(slotFreed).toBe(true);
          });
          const bare = await reads(async () => {
            const { rowCount } = await client.query(
              `UPDATE queue_admissions a SET released_at = now(), release_reason = 'left'
                WHERE a.event_id = $1 AND a.customer_id = $2 AND ${liveSlot('a', 'now()')}`,
              [event.eventId, fans[101]]);
            expect(rowCount).toBe(1);
          });
          // The slot's row, and the count trigger's look at the leaver's admission (both
          // images of the entry).
          expect(now).toBeLessThanOrEqual(4);
          expect(bare).toBeGreaterThanOrEqual(2_000);
        } finally {
          await client.query('ROLLBACK');
        }
      });
  });
