/**
 * Migration 024 on a database that already has a sale in it: the schema is put back as it
 * was before 024 (its indexes, foreign keys and fillfactor), a hold is made, then 024 is
 * applied as an upgrade. Holds made before it are still released through hold_items, new
 * holds still work, and an event can no longer be deleted. On both backends.
 */
import { beforeAll, expect, it } from 'vitest';
import { loadEvent } from '../catalog/events.js';
import { createHold, releaseHold } from '../holds/holds.js';
import { testBackends } from '../testing/backends.js';
import { buildCustomers, buildEvent } from '../testing/factories.js';
import { describeEachBackend } from '../testing/suites.js';
import { migrate } from './migrate.js';

const before024 = `
  DROP TRIGGER events_are_never_deleted ON events;
  DROP FUNCTION events_are_never_deleted();
  ALTER TABLE tickets RESET (fillfactor);
  CREATE INDEX tickets_hold_idx ON tickets (hold_id) WHERE hold_id IS NOT NULL;
  CREATE INDEX tickets_claimed_idx ON tickets (event_id, zone_key)
    WHERE hold_id IS NOT NULL OR order_id IS NOT NULL;
  ALTER TABLE holds ADD CONSTRAINT holds_event_id_fkey
    FOREIGN KEY (event_id) REFERENCES events (event_id);
  ALTER TABLE orders ADD CONSTRAINT orders_event_id_fkey
    FOREIGN KEY (event_id) REFERENCES events (event_id);
  DELETE FROM schema_migrations WHERE version = 24;`;

describeEachBackend(await testBackends(), (name) => `migration 024 as an upgrade on ${name}`,
  { poolMax: 4 }, (suite) => {
    beforeAll(async () => {
      await suite.db.exec(before024);
    });

    it('applies over existing holds, which are still released; events cannot be deleted',
      async () => {
        const { db, ctx } = suite;
        const created = await buildEvent(ctx);
        const event = await loadEvent(db, created.eventId);
        const [fan] = await buildCustomers(ctx, 1);
        const customerId = fan?.customerId as string;
        const old = await createHold(db, event, customerId, { seats: ['A-1-1', 'A-1-2'] });

        expect(await migrate(db)).toEqual(['024_hot_ticket_updates']);
        const { rows: indexes } = await db.query<{ indexname: string }>(
          `SELECT indexname FROM pg_indexes
            WHERE tablename = 'tickets' AND indexname IN ('tickets_hold_idx',
                                                          'tickets_claimed_idx')`);
        expect(indexes).toEqual([]);

        await releaseHold(db, customerId, old.holdId);
        const { rows: held } = await db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM tickets WHERE event_id = $1 AND hold_id IS NOT NULL',
          [event.eventId]);
        expect(held[0]?.n).toBe(0);
        const again = await createHold(db, event, customerId, { seats: ['A-1-1'] });
        expect(again.items.map((item) => item.seatId)).toEqual(['A-1-1']);

        await expect(db.query('DELETE FROM events WHERE event_id = $1', [event.eventId]))
          .rejects.toThrow(/never deleted/);
      });
  });
