/**
 * The simulator's audit reads one snapshot. A sale is often audited while its server still
 * runs (a run stopped by its time limit: holds live, the sweeper and late webhooks still
 * writing). Here a hold commits on another connection between the audit's statements: read in
 * one transaction the zone arithmetic still adds up; read statement by statement (the
 * control) the held count and the ticket rows disagree although every committed state was
 * consistent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../src/context.js';
import type { Db, Queryable } from '../src/storage/index.js';
import { testBackends } from '../src/testing/backends.js';
import { buildTestContext } from '../src/testing/context.js';
import { buildCustomer, buildEvent, buildHold } from '../src/testing/factories.js';
import { auditEvent, auditSnapshot } from './audit.js';

const postgres = (await testBackends()).find((b) => b.name === 'postgres');
const arithmetic = 'available + held + sold = capacity per zone';

/** The statement that derives availability from the ticket rows, after the zone counts. */
const derivedAvailability = /FROM tickets WHERE event_id = \$1 GROUP BY zone_key/;

/** A handle that runs `interleave` once, just before the derived-availability statement. */
function interleaved(inner: Queryable, interleave: () => Promise<void>): Queryable {
  let done = false;
  return {
    async query(sql, params) {
      if (!done && derivedAvailability.test(sql)) {
        done = true;
        await interleave();
      }
      return inner.query(sql, params);
    },
    exec: (sql) => inner.exec(sql),
  };
}

describe.skipIf(postgres?.available !== true)('the simulator audit on a running sale', () => {
  let db: Db;
  let ctx: AppContext;

  beforeAll(async () => {
    db = await (postgres as NonNullable<typeof postgres>).open({ poolMax: 4 });
    ctx = buildTestContext(db);
  });
  afterAll(async () => {
    await db?.close();
  });

  /** An on-sale event and a hold that commits (on its own connection) when called. */
  async function sale(): Promise<{ eventId: string; holdLater: () => Promise<void> }> {
    const event = await buildEvent(ctx);
    const fan = await buildCustomer(ctx);
    await buildHold(ctx, event.eventId, fan.customerId, { seats: ['A-1-1'] });
    const later = await buildCustomer(ctx);
    return {
      eventId: event.eventId,
      holdLater: async () => {
        await buildHold(ctx, event.eventId, later.customerId, { seats: ['A-1-2', 'A-1-3'] });
      },
    };
  }

  it('control: read statement by statement, a hold committed mid-audit breaks the arithmetic',
    async () => {
      const { eventId, holdLater } = await sale();
      const report = await auditSnapshot(interleaved(db, holdLater), eventId);
      expect(report.checks.find((c) => c.name === arithmetic)?.ok).toBe(false);
    });

  it('reads one snapshot: the same interleaving leaves the audit clean', async () => {
    const { eventId, holdLater } = await sale();
    const snapshotDb: Db = {
      ...db,
      kind: db.kind,
      query: (sql, params) => db.query(sql, params),
      exec: (sql) => db.exec(sql),
      ping: () => db.ping(),
      close: () => db.close(),
      tx: (work, options) => db.tx((tx) => work(interleaved(tx, holdLater)), options),
    };
    const report = await auditEvent(snapshotDb, eventId);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.zones.reduce((sum, z) => sum + z.held, 0)).toBe(1);
    // The hold did commit: a fresh audit sees both.
    const after = await auditEvent(db, eventId);
    expect(after.ok).toBe(true);
    expect(after.zones.reduce((sum, z) => sum + z.held, 0)).toBe(3);
  });
});
