import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { limits } from '../config/limits.js';
import { testBackends } from '../testing/backends.js';
import type { Db } from './index.js';
import {
  autovacuumOff, embeddedPass, maintainServerTables, maintenancePassLockKey, maintainTables,
  planPass, serverPass, startTableMaintenance, type TableStats,
} from './maintenance.js';

const backends = await testBackends();
const pglite = backends.find((backend) => backend.name === 'pglite');
const postgres = backends.find((backend) => backend.name === 'postgres' && backend.available);

interface Stats {
  n_mod_since_analyze: number;
  n_dead_tup: number;
  n_live_tup: number;
  last_analyze: Date | null;
}

async function stats(db: Db, table: string): Promise<Stats> {
  const { rows } = await db.query<Stats>(
    `SELECT n_mod_since_analyze::int AS n_mod_since_analyze, n_dead_tup::int AS n_dead_tup,
            n_live_tup::int AS n_live_tup, last_analyze
       FROM pg_stat_user_tables WHERE relname = $1`, [table]);
  return rows[0] as Stats;
}

/** Counts reach pg_stat_user_tables a moment after the commit: wait for them. */
async function settled(db: Db, table: string, check: (s: Stats) => boolean): Promise<void> {
  await vi.waitFor(async () => {
    await db.query('SELECT 1'); // a statement after the commit lets the counts be flushed
    expect(check(await stats(db, table))).toBe(true);
  }, { timeout: 10_000, interval: 50 });
}

let probes = 0;
/** A table of its own for one test, `rows` rows in it; autovacuum kept off it. */
async function probe(db: Db, rows: number): Promise<string> {
  const name = `maint_probe_${++probes}`;
  await db.exec(`CREATE TABLE ${name} (k int PRIMARY KEY, v int NOT NULL)`);
  // A server running autovacuum would maintain the probe behind the test's back.
  if (db.kind === 'postgres') await db.exec(`ALTER TABLE ${name} SET (autovacuum_enabled = false)`);
  if (rows > 0) {
    await db.query(`INSERT INTO ${name} SELECT g, 0 FROM generate_series(1, $1::int) g`, [rows]);
  }
  return name;
}

/** Writes `n` rows past the table's keys and deletes them: an outbox's churn. */
async function churn(db: Db, table: string, n: number): Promise<void> {
  await db.query(
    `INSERT INTO ${table} SELECT g, 0 FROM generate_series(100001, 100000 + $1::int) g`, [n]);
  await db.query(`DELETE FROM ${table} WHERE k > 100000`);
}

const table = (over: Partial<TableStats>): TableStats => ({
  relname: 't', reltuples: 100, n_live_tup: 100, n_dead_tup: 0, n_mod_since_analyze: 0,
  analyzedAgoSeconds: 1, vacuumedAgoSeconds: 1, ...over,
});

describe('planPass: what a pass does, by the tables\' figures', () => {
  const min = limits.maintenanceTableMinSeconds;

  it('re-analyzes a churned table only once the interval has passed (control: without it)', () => {
    // An outbox: 20 live rows, thousands written and deleted since an analysis 5 s ago.
    const outbox = table({ reltuples: 20, n_live_tup: 20, n_mod_since_analyze: 3000,
      analyzedAgoSeconds: 5 });
    expect(planPass([outbox], { vacuum: 'none', minSeconds: 0 }).analyze).toEqual(['t']);
    expect(planPass([outbox], serverPass).analyze).toEqual([]);
    expect(planPass([{ ...outbox, analyzedAgoSeconds: min }], serverPass).analyze)
      .toEqual(['t']);
    expect(planPass([{ ...outbox, analyzedAgoSeconds: null }], serverPass).analyze)
      .toEqual(['t']);
  });

  it('analyzes a table that more than doubled at once, whatever the interval', () => {
    const grown = table({ reltuples: 1000, n_live_tup: 2051, n_mod_since_analyze: 1051 });
    expect(planPass([grown], serverPass).analyze).toEqual(['t']);
    const notYet = table({ reltuples: 1000, n_live_tup: 2049, n_mod_since_analyze: 1049 });
    expect(planPass([notYet], serverPass).analyze).toEqual([]);
    // Never sized (an empty table at its last analysis): 51 live rows count as grown.
    expect(planPass([table({ reltuples: 0, n_live_tup: 51, n_mod_since_analyze: 51 })],
      serverPass).analyze).toEqual(['t']);
  });

  it('vacuums on a server only a table whose dead rows outnumber its live ones', () => {
    const outbox = table({ relname: 'outbox', reltuples: 3000, n_live_tup: 3000,
      n_dead_tup: 9000, vacuumedAgoSeconds: null });
    const orders = table({ relname: 'orders', reltuples: 50_000, n_live_tup: 50_000,
      n_dead_tup: 30_000, vacuumedAgoSeconds: null });
    expect(planPass([outbox, orders], serverPass).vacuum).toBe('outbox');
    expect(planPass([orders], serverPass).vacuum).toBeUndefined();
    expect(planPass([outbox, orders], embeddedPass).vacuum).toBe('orders');
    expect(planPass([outbox], { vacuum: 'none', minSeconds: 0 }).vacuum).toBeUndefined();
    expect(planPass([{ ...outbox, vacuumedAgoSeconds: 5 }], serverPass).vacuum).toBeUndefined();
    expect(planPass([{ ...outbox, vacuumedAgoSeconds: min }], serverPass).vacuum)
      .toBe('outbox');
  });
});

describe('embedded table maintenance (PGlite has no autovacuum)', () => {
  let db: Db;
  beforeAll(async () => {
    db = await (pglite as NonNullable<typeof pglite>).open();
  });
  afterAll(async () => db?.close());

  it('control: nothing analyzes a changed table on its own', async () => {
    const name = await probe(db, 1000);
    await settled(db, name, (s) => s.n_mod_since_analyze >= 1000);
    expect((await stats(db, name)).last_analyze).toBeNull();
  });

  it('analyzes a table once its changes pass the threshold, not again until they do', async () => {
    const name = await probe(db, 1000);
    await settled(db, name, (s) => s.n_mod_since_analyze >= 1000);
    expect((await maintainTables(db)).analyzed).toContain(name);
    const after = await stats(db, name);
    expect(after.last_analyze).not.toBeNull();
    expect(after.n_mod_since_analyze).toBe(0);
    const { rows } = await db.query<{ reltuples: number }>(
      'SELECT reltuples::int AS reltuples FROM pg_class WHERE relname = $1', [name]);
    expect(rows[0]?.reltuples).toBe(1000);
    // 50 + 10 % of 1,000 = 150 changes are needed; 100 are not enough, even with no interval.
    await db.query(`UPDATE ${name} SET v = 1 WHERE k <= 100`);
    await settled(db, name, (s) => s.n_mod_since_analyze >= 100);
    expect((await maintainTables(db, { ...embeddedPass, minSeconds: 0 })).analyzed)
      .not.toContain(name);
  });

  it('analyzes a churned table once a minute (control: the old cadence, every pass)', async () => {
    const name = await probe(db, 100);
    await settled(db, name, (s) => s.n_live_tup === 100);
    expect((await maintainTables(db)).analyzed).toContain(name);
    await churn(db, name, 500);
    await settled(db, name, (s) => s.n_mod_since_analyze >= 1000);
    expect((await maintainTables(db)).analyzed).not.toContain(name);
    expect((await maintainTables(db, { ...embeddedPass, minSeconds: 0 })).analyzed)
      .toContain(name);
  });

  it('analyzes a table that more than doubled at once (control: less growth waits)', async () => {
    const name = await probe(db, 100);
    await settled(db, name, (s) => s.n_live_tup === 100);
    expect((await maintainTables(db)).analyzed).toContain(name);
    // 100 more rows pass the change threshold (60) but not the growth one (50 + 2 × 100).
    await db.query(`INSERT INTO ${name} SELECT g, 0 FROM generate_series(101, 200) g`);
    await settled(db, name, (s) => s.n_live_tup === 200);
    expect((await maintainTables(db)).analyzed).not.toContain(name);
    await db.query(`INSERT INTO ${name} SELECT g, 0 FROM generate_series(201, 300) g`);
    await settled(db, name, (s) => s.n_live_tup === 300);
    expect((await maintainTables(db)).analyzed).toContain(name);
  });

  it('vacuums a table whose dead rows pass the threshold, analyzing only if due', async () => {
    const name = await probe(db, 1000);
    await settled(db, name, (s) => s.n_live_tup === 1000);
    expect((await maintainTables(db)).analyzed).toContain(name);
    await db.query(`DELETE FROM ${name} WHERE k <= 600`);
    await settled(db, name, (s) => s.n_dead_tup >= 600);
    const pass = await maintainTables(db);
    expect(pass.vacuumed).toEqual([name]);
    expect(pass.analyzed).not.toContain(name); // analyzed seconds ago, and it shrank
    await settled(db, name, (s) => s.n_dead_tup === 0 && s.n_mod_since_analyze >= 600);
  });

  it('runs on its own on PGlite and stops cleanly', async () => {
    const name = await probe(db, 400);
    await settled(db, name, (s) => s.n_mod_since_analyze >= 400);
    const stop = startTableMaintenance(db, pino({ level: 'silent' }), 20);
    try {
      await settled(db, name, (s) => s.n_mod_since_analyze === 0);
    } finally {
      await stop();
    }
  });
});

describe.skipIf(postgres === undefined)('PostgreSQL with autovacuum off: the server pass', () => {
  let db: Db;
  beforeAll(async () => {
    db = await (postgres as NonNullable<typeof postgres>).open();
  });
  afterAll(async () => db?.close());

  it('vacuums a churn table (control: the analyze-only pass left its dead rows)', async () => {
    const name = await probe(db, 20);
    await churn(db, name, 1000);
    await settled(db, name, (s) => s.n_dead_tup >= 1000 && s.n_live_tup === 20);
    const before = await maintainServerTables(db, { vacuum: 'none', minSeconds: 0 });
    expect(before.analyzed).toContain(name);
    expect(before.vacuumed).toEqual([]);
    expect((await stats(db, name)).n_dead_tup).toBeGreaterThanOrEqual(1000);
    const pass = await maintainServerTables(db);
    expect(pass.vacuumed).toEqual([name]);
    await settled(db, name, (s) => s.n_dead_tup === 0);
  });

  it('leaves a table with more live than dead rows to the operator', async () => {
    const name = await probe(db, 1000);
    await db.query(`DELETE FROM ${name} WHERE k <= 400`);
    await settled(db, name, (s) => s.n_dead_tup >= 400 && s.n_live_tup === 600);
    const pass = await maintainServerTables(db);
    expect(pass.analyzed).toContain(name);
    expect(pass.vacuumed).not.toContain(name);
    expect((await stats(db, name)).n_dead_tup).toBeGreaterThanOrEqual(400);
  });

  it('analyzes a churned table once a minute (control: the old cadence, every pass)', async () => {
    const name = await probe(db, 100);
    await settled(db, name, (s) => s.n_live_tup === 100);
    expect((await maintainServerTables(db)).analyzed).toContain(name);
    await churn(db, name, 500);
    await settled(db, name, (s) => s.n_mod_since_analyze >= 1000);
    expect((await maintainServerTables(db)).analyzed).not.toContain(name);
    expect((await maintainServerTables(db, { vacuum: 'none', minSeconds: 0 })).analyzed)
      .toContain(name);
  });

  it('skips the pass while another node\'s pass holds the lock (control: then runs)', async () => {
    const name = await probe(db, 400);
    await settled(db, name, (s) => s.n_mod_since_analyze >= 400);
    let release = (): void => {};
    const held = new Promise<void>((resolve) => { release = resolve; });
    let locked = (): void => {};
    const hasLock = new Promise<void>((resolve) => { locked = resolve; });
    // Another node's pass, stood in for by a transaction holding the pass lock.
    const blocker = db.tx(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [maintenancePassLockKey]);
      locked();
      await held;
    });
    await hasLock;
    try {
      expect((await maintainServerTables(db)).analyzed).toEqual([]);
    } finally {
      release();
      await blocker;
    }
    expect((await maintainServerTables(db)).analyzed).toContain(name);
  });

  it('runs by itself only where autovacuum is off', async () => {
    const name = await probe(db, 400);
    await settled(db, name, (s) => s.n_mod_since_analyze >= 400);
    const stop = startTableMaintenance(db, pino({ level: 'silent' }), 20);
    try {
      if (await autovacuumOff(db)) {
        await settled(db, name, (s) => s.n_mod_since_analyze === 0);
      } else {
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect((await stats(db, name)).n_mod_since_analyze).toBeGreaterThanOrEqual(400);
      }
    } finally {
      await stop();
    }
  });
});
