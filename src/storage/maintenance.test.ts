import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { testBackends } from '../testing/backends.js';
import type { Db } from './index.js';
import {
  autovacuumOff, maintainServerTables, maintenancePassLockKey, maintainTables, startTableMaintenance,
} from './maintenance.js';

const backends = await testBackends();
const pglite = backends.find((backend) => backend.name === 'pglite');
const postgres = backends.find((backend) => backend.name === 'postgres' && backend.available);

interface Stats { n_mod_since_analyze: number; n_dead_tup: number; last_analyze: Date | null }

async function stats(db: Db, table: string): Promise<Stats> {
  const { rows } = await db.query<Stats>(
    `SELECT n_mod_since_analyze::int AS n_mod_since_analyze, n_dead_tup::int AS n_dead_tup,
            last_analyze
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

describe('embedded table maintenance (PGlite has no autovacuum)', () => {
  let db: Db;
  beforeAll(async () => {
    db = await (pglite as NonNullable<typeof pglite>).open();
    await db.exec('CREATE TABLE maint_probe (k int PRIMARY KEY, v int NOT NULL)');
  });
  afterAll(async () => db?.close());

  it('control: nothing analyzes a changed table on its own', async () => {
    await db.query('INSERT INTO maint_probe SELECT g, 0 FROM generate_series(1, 1000) g');
    await settled(db, 'maint_probe', (s) => s.n_mod_since_analyze >= 1000);
    expect((await stats(db, 'maint_probe')).last_analyze).toBeNull();
  });

  it('analyzes a table once its changes pass the threshold, and not again until they do', async () => {
    const first = await maintainTables(db);
    expect(first.analyzed).toContain('maint_probe');
    const after = await stats(db, 'maint_probe');
    expect(after.last_analyze).not.toBeNull();
    expect(after.n_mod_since_analyze).toBe(0);
    const { rows } = await db.query<{ reltuples: number }>(
      "SELECT reltuples::int AS reltuples FROM pg_class WHERE relname = 'maint_probe'");
    expect(rows[0]?.reltuples).toBe(1000);
    // 50 + 10 % of 1,000 = 150 changes are needed; 100 are not enough.
    await db.query('UPDATE maint_probe SET v = 1 WHERE k <= 100');
    await settled(db, 'maint_probe', (s) => s.n_mod_since_analyze >= 100);
    expect((await maintainTables(db)).analyzed).not.toContain('maint_probe');
  });

  it('vacuums a table whose dead rows pass the threshold', async () => {
    await db.query('DELETE FROM maint_probe WHERE k <= 600');
    await settled(db, 'maint_probe', (s) => s.n_dead_tup >= 600);
    const pass = await maintainTables(db);
    expect(pass.vacuumed).toEqual(['maint_probe']);
    await settled(db, 'maint_probe', (s) => s.n_dead_tup === 0 && s.n_mod_since_analyze === 0);
  });

  it('runs on its own on PGlite and stops cleanly', async () => {
    await db.query('UPDATE maint_probe SET v = v + 1');
    await settled(db, 'maint_probe', (s) => s.n_mod_since_analyze >= 400);
    const stop = startTableMaintenance(db, pino({ level: 'silent' }), 20);
    try {
      await settled(db, 'maint_probe', (s) => s.n_mod_since_analyze === 0);
    } finally {
      await stop();
    }
  });
});

describe.skipIf(postgres === undefined)('PostgreSQL with autovacuum off: analyze-only stand-in', () => {
  let db: Db;
  beforeAll(async () => {
    const backend = postgres as NonNullable<typeof postgres>;
    db = await backend.open();
    await db.exec('CREATE TABLE maint_probe (k int PRIMARY KEY, v int NOT NULL)');
    // Autovacuum would analyze the probe behind the test's back on a server that runs it.
    await db.exec('ALTER TABLE maint_probe SET (autovacuum_enabled = false)');
  });
  afterAll(async () => db?.close());

  it('analyzes past the threshold and never vacuums', async () => {
    await db.query('INSERT INTO maint_probe SELECT g, 0 FROM generate_series(1, 1000) g');
    await db.query('DELETE FROM maint_probe WHERE k <= 600');
    await settled(db, 'maint_probe', (s) => s.n_mod_since_analyze >= 1600 && s.n_dead_tup >= 600);
    const pass = await maintainServerTables(db);
    expect(pass.analyzed).toContain('maint_probe');
    expect(pass.vacuumed).toEqual([]);
    await settled(db, 'maint_probe', (s) => s.n_mod_since_analyze === 0);
    expect((await stats(db, 'maint_probe')).n_dead_tup).toBeGreaterThanOrEqual(600);
  });

  it('skips the pass while another node\'s pass holds the lock (control: then runs)', async () => {
    await db.query('UPDATE maint_probe SET v = v + 1');
    await settled(db, 'maint_probe', (s) => s.n_mod_since_analyze >= 400);
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
    expect((await maintainServerTables(db)).analyzed).toContain('maint_probe');
  });

  it('runs by itself only where autovacuum is off', async () => {
    await db.query('UPDATE maint_probe SET v = v + 1');
    await settled(db, 'maint_probe', (s) => s.n_mod_since_analyze >= 400);
    const stop = startTableMaintenance(db, pino({ level: 'silent' }), 20);
    try {
      if (await autovacuumOff(db)) {
        await settled(db, 'maint_probe', (s) => s.n_mod_since_analyze === 0);
      } else {
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect((await stats(db, 'maint_probe')).n_mod_since_analyze).toBeGreaterThanOrEqual(400);
      }
    } finally {
      await stop();
    }
  });
});
