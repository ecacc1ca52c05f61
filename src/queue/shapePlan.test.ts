/**
 * The tick's shape of what is left (queue_shape) reads the unsold tickets, not the event's
 * every ticket, on statistics made while every ticket was unsold (as at a sale's start, with
 * nothing analyzing tickets since): it runs off sequential scans (076; a SET in its definition
 * since 077). The control is the same function with that setting reset (as it was before 076)
 * for one call.
 * PostgreSQL only: tuples read come from pg_stat_xact_user_tables.
 */
import { expect, it } from 'vitest';

import type { Queryable } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildEvent, buildVenue } from '../testing/factories.js';
import { describePostgres } from '../testing/suites.js';

const backends = await testBackends();

/** Tuples of `tickets` this transaction has read so far, by sequential and index scans. */
async function ticketsRead(tx: Queryable): Promise<{ seq: number; index: number }> {
  const { rows: [row] } = await tx.query<{ seq: number; index: number }>(
    `SELECT coalesce(seq_tup_read, 0)::int AS seq, coalesce(idx_tup_fetch, 0)::int AS index
       FROM pg_stat_xact_user_tables WHERE relname = 'tickets'`);
  return row ?? { seq: 0, index: 0 };
}

describePostgres(backends, 'the shape of what is left at a sale\'s end (PostgreSQL)',
  { poolMax: 2 }, (suite) => {
    it('reads the unsold tickets only; control: planned as before 076, it reads them all',
      async () => {
        const { db, ctx } = suite;
        const venue = await buildVenue(ctx, { rows: 20, seatsPerRow: 100, standing: 1 });
        const event = await buildEvent(ctx, { venue });
        // The statistics of an empty sale, kept: nothing analyzes tickets again.
        await db.query('ALTER TABLE tickets SET (autovacuum_enabled = false)');
        await db.query('ANALYZE tickets');
        // All but the first row's 100 seats sold (the rows as a sale leaves them).
        await db.query(
          `UPDATE tickets SET order_id = gen_random_uuid()
            WHERE event_id = $1 AND (section_key <> 'A' OR row_index <> 0)`, [event.eventId]);

        // The control resets the function's setting and sets it back in the same transaction.
        const read = async (reset: boolean) => await db.tx(async (tx) => {
          if (reset) await tx.query('ALTER FUNCTION queue_shape(uuid) RESET enable_seqscan');
          const before = await ticketsRead(tx);
          const { rows } = await tx.query<{ kind: string; size: number; n: number }>(
            'SELECT * FROM queue_shape($1)', [event.eventId]);
          const after = await ticketsRead(tx);
          if (reset) await tx.query('ALTER FUNCTION queue_shape(uuid) SET enable_seqscan = off');
          return {
            rows, tuples: after.seq - before.seq + after.index - before.index,
            seq: after.seq - before.seq,
          };
        });

        const kept = await read(false);
        expect(kept.seq).toBe(0);
        expect(kept.tuples).toBeLessThanOrEqual(100);
        // The 100 unsold seats are the first row of the first section: one run of 100.
        expect(kept.rows).toContainEqual({ kind: 'run', size: 100, n: 1 });

        const control = await read(true);
        expect(control.rows).toEqual(kept.rows);
        expect(control.seq).toBeGreaterThanOrEqual(2_000);
      });
  });
